"""Checks that the generator configurations share (plain functions, no torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["checked_class", "pyramid_levels"]


def pyramid_levels(resolution: int, channels: Sequence[int], *, smallest: int) -> int:
    """The number of resolutions from 4 px up to ``resolution``, checked against ``channels``.

    Raises ValueError when ``resolution`` is not a power of two of at least
    ``smallest``, or when there is not one channel count per resolution.
    """
    n_res = int(math.log2(resolution)) - 1
    if 2 ** (n_res + 1) != resolution or resolution < smallest:
        raise ValueError(f"resolution must be a power of two >= {smallest}, got {resolution}")
    if len(channels) != n_res:
        raise ValueError(f"need {n_res} channel counts for {resolution} px, got {channels}")
    return n_res


def checked_class(value: int, c_dim: int) -> int:
    """``value`` as a class index of a model with ``c_dim`` classes (0: not class-conditional)."""
    if not c_dim:
        raise ValueError("this model is not class-conditional")
    if not 0 <= int(value) < c_dim:
        raise ValueError(f"class {value} is not one of the model's classes 0-{c_dim - 1}")
    return int(value)
