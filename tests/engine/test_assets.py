"""The bundled default opens offline, and its boundaries fit it."""

from __future__ import annotations

from strata import assets
from strata.engine.core.boundary import load_boundaries
from strata.engine.core.models import load_generator
from strata.engine.core.render import Renderer
from strata.engine.core.scene import Code, Scene
from strata.engine.core.edits import Edit


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


def test_every_bundled_slider_moves_its_own_semantic_the_named_way():
    # A user who pushes "lamp" to + expects more lamp than at -: the shipped library
    # must have been discovered on the shipped model, with its signs and layers.
    import numpy as np
    import torch
    from strata.engine.core.edits import apply_edits
    from strata.engine.discovery.predictors import get_predictor

    g = load_generator(assets.default_model_path(), "cpu").generator
    bounds, _ = load_boundaries(assets.default_boundaries_path())
    pred = get_predictor("rooms")
    z = torch.from_numpy(np.random.RandomState(0).randn(16, g.z_dim).astype(np.float32))
    psi = g.default_psi
    moved = {}
    with torch.inference_mode():
        wp = g.truncate(g.mapping(z), psi)
        for b in bounds:
            score = {}
            for s in (-3.0, 3.0):
                e = Edit.with_default_layers(b, s, num_layers=g.num_layers)
                img = g.synthesize(apply_edits(wp, [e], truncation_psi=psi,
                                               truncation_layers=g.truncation_layers))
                score[s] = pred.predict(img)[b.name].float().mean().item()
            moved[b.name] = score[3.0] - score[-3.0]
    assert set(moved) == {s.name for s in pred.semantics}
    assert all(d > 0 for d in moved.values()), moved
