"""The bundled default opens offline, and its boundaries fit it."""

from __future__ import annotations

import assets
from engine.boundary import load_boundaries
from engine.models import load_generator
from engine.render import Renderer
from engine.scene import Code, Scene
from engine.edits import Edit


def test_default_model_and_boundaries_load_and_edit():
    m = load_generator(assets.default_model_path(), "cpu")
    g = m.generator
    bounds, errors = load_boundaries(assets.default_boundaries_path())
    assert not errors and len(bounds) >= 2
    for b in bounds:
        b.check_compatible(w_dim=g.w_dim, num_layers=g.num_layers)
    r = Renderer("cpu")
    scene = Scene(code=Code.from_seed(1), psi=g.default_psi,
                  edits=tuple(Edit.with_default_layers(b, 0.0, num_layers=g.num_layers) for b in bounds))
    base, _ = r.render_scene(scene, assets.default_model_path())
    assert base.shape == (g.resolution, g.resolution, 3) and base.std() > 5
    moved, _ = r.render_scene(scene.with_edit(0, strength=3.0))
    assert (moved != base).any()
    assert assets.default_title()
