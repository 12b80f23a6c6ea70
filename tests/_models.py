"""The tiny random generator several tests share (built in one place)."""

from __future__ import annotations

import torch

from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator


def tiny_generator() -> StyleGANGenerator:
    """16 px, z = w = 16, 6 W+ layers; weights nudged off their init so every
    parameter matters, and a non-zero ``w_avg`` so truncation does something."""
    torch.manual_seed(0)
    g = StyleGANGenerator(StyleGANConfig.simple(16, z_dim=16, w_dim=16, fmaps_base=128, fmaps_max=16,
                                                mapping_layers=2))
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        g.truncation.w_avg.normal_()
    return g.eval().requires_grad_(False)
