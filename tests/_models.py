"""The tiny random generator several tests share (built in one place)."""

from __future__ import annotations

import torch

from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator


def tiny_generator(resolution: int = 16, *, fmaps_base: int = 128, seed: int = 0) -> StyleGANGenerator:
    """16 px (or ``resolution``), z = w = 16, 6 W+ layers at 16 px; weights nudged off their init so
    every parameter matters, and a non-zero ``w_avg`` so truncation does something."""
    torch.manual_seed(seed)
    g = StyleGANGenerator(StyleGANConfig.simple(resolution, z_dim=16, w_dim=16, fmaps_base=fmaps_base,
                                                fmaps_max=16, mapping_layers=2))
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        g.truncation.w_avg.normal_()
    return g.eval().requires_grad_(False)
