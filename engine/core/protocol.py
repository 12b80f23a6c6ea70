"""The small interface every generator architecture fills (StyleGAN, StyleGAN2)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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
