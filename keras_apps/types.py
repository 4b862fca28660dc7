"""Type aliases shared across keras-apps."""

from __future__ import annotations

from typing import Any, TypeAlias

Tensor: TypeAlias = Any
"""A backend tensor (tf.Tensor, jax.Array, torch.Tensor) or a KerasTensor."""

Shape: TypeAlias = tuple[int | None, ...]
"""A tensor shape; ``None`` marks an unknown (usually batch) dimension."""
