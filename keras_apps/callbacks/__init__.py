"""Keras callbacks shipped with keras-apps."""

__all__: list[str] = []
