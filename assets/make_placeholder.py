"""Build the placeholder: a small random StyleGAN and three random boundaries.

Run once: ``python assets/make_placeholder.py``. It was the app's default
until the trained rooms model replaced it; the benchmarks still time it
(docs/benchmarks.md). It leaves ``default.json`` alone, so running it again
does not make the placeholder the default.
"""

from pathlib import Path

import numpy as np
import torch

from strata.engine.core.boundary import Boundary, save_boundary
from strata.engine.core.models import load_generator, save_generator
from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator

HERE = Path(__file__).resolve().parent

torch.manual_seed(0)
cfg = StyleGANConfig(resolution=64, z_dim=64, w_dim=64, mapping_layers=4, mapping_hidden=64,
                     channels=(64, 64, 32, 16, 8), fused=(False,) * 4, truncation_layers=6)
g = StyleGANGenerator(cfg)
with torch.no_grad():
    for name, p in g.named_parameters():
        if name.endswith("bias") and "style_mod" not in name:
            p.normal_(0, 0.2)
    g.truncation.w_avg.normal_(0, 0.5)
save_generator(g, HERE / "placeholder64_generator.pth",
               meta={"name": "Placeholder (random weights)",
                     "description": "A random-weight StyleGAN standing in until the trained rooms model lands."})
fp = load_generator(HERE / "placeholder64_generator.pth", "cpu").fingerprint
out = HERE / "boundaries" / "placeholder64"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.RandomState(0)
for name, level, layers in [("layout", "layout", (0, 3)), ("objects", "object", (4, 5)),
                            ("colour", "colour", (8, 9))]:
    save_boundary(Boundary(name, rng.randn(64), level=level, layers=layers, model_fingerprint=fp,
                           provenance="random placeholder direction"), out / f"{name}.npz")
