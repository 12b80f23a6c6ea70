"""The small interface every generator architecture fills (StyleGAN, StyleGAN2, StyleGAN3).

A generator built on :class:`~strata.engine.core.wplus.WPlusMixin` adds
:meth:`IncrementalGenerator.synthesis_plan`, which lists its synthesis as
steps by the W+ entry each first reads; ``synthesize(wp, cache=...)`` then
re-runs only the steps from the first entry that differs from the cached
code (:mod:`strata.engine.core.incremental`). Callers test for it with
``hasattr(g, "synthesis_plan")``; a generator without it synthesizes whole.

Optional: ``reduced_precision(dtype)`` returns an incremental synthesis of
the same function prepared once in a reduced type (or None), which the
renderer uses for its fast frames (``hasattr(g, "reduced_precision")``);
a generator without it draws them under autocast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """What the editor and the analysis need from a style-based generator.

    ``wp`` is the per-layer code in W+: ``[N, num_layers, w_dim]``.
    """

    architecture: str

    @property
    def num_layers(self) -> int: ...

    @property
    def z_dim(self) -> int: ...

    @property
    def w_dim(self) -> int: ...

    @property
    def resolution(self) -> int: ...

    @property
    def layer_resolutions(self) -> tuple[int, ...]: ...

    @property
    def w_avg(self) -> torch.Tensor: ...

    @property
    def truncation_layers(self) -> int: ...

    @property
    def default_psi(self) -> float: ...

    def mapping(self, z: torch.Tensor) -> torch.Tensor: ...

    def truncate(self, w: torch.Tensor, psi: float = 1.0, layers: int | None = None) -> torch.Tensor: ...

    def synthesize(self, wp: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class IncrementalGenerator(Generator, Protocol):
    """A generator whose synthesis resumes from a cached layer (every one Strata opens)."""

    def synthesis_plan(self) -> tuple[list, Callable[[Any], torch.Tensor]]:
        """``(steps, finish)``: :class:`~strata.engine.core.incremental.Step` s in
        non-decreasing entry order, and what turns the last state into the image."""
        ...

    def synthesis_token(self) -> tuple | None:
        """Switches besides weights and buffers the image depends on; None: never cache."""
        ...

    def synthesize(self, wp: torch.Tensor, *, cache=None, update: bool = True) -> torch.Tensor: ...
