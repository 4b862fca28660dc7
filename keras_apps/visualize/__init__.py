"""CNN interpretation: receptive fields, top activating patches, feature maps.

They arrive with the interpretation work; see DESIGN.md.
"""

__all__: list[str] = []
