"""The renderer re-runs only the layers a slider move changes, draws a fast frame on request,
renders the preview strip from its cached activations, and keeps one copy of a model."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from strata import assets
from strata.engine.core.boundary import Boundary
from strata.engine.core.device import resolve_device
from strata.engine.core.edits import Edit
from strata.engine.core.errors import StrataError
from strata.engine.core.model_cache import shared_count
from strata.engine.core.render import Renderer, RenderRequest, fast_dtype
from strata.engine.core.scene import Code, Scene
from strata.engine.core.strip import render_strip

MODEL = assets.default_model_path()


def _scene(seed=3, strength=1.0, layers=(6, 9)):
    rng = np.random.default_rng(seed)
    b1 = Boundary("one", rng.standard_normal(128), layers=None)
    b2 = Boundary("two", rng.standard_normal(128), layers=None)
    return Scene(code=Code.from_seed(seed), psi=0.85,
                 edits=(Edit(b1, strength, layers), Edit(b2, -0.5, (2, 9))))


def test_a_slider_move_redraws_only_from_its_first_layer_and_matches_a_fresh_render(one_thread):
    r = Renderer("cpu")
    scene = _scene()
    first = r(RenderRequest(1, str(MODEL), scene))
    assert first.ok and first.first_layer == 0 and first.exact
    for i, s in enumerate((1.5, -2.0, 0.0)):
        moved = scene.with_edit(0, strength=s)
        res = r(RenderRequest(2 + i, str(MODEL), moved))
        assert res.first_layer == 6  # the row acts on layers 6-9: layers 0-5 were kept
        fresh = Renderer("cpu")(RenderRequest(9, str(MODEL), moved))
        assert np.array_equal(res.image, fresh.image)
    # The truncation moves every truncated entry: a whole frame again.
    res = r(RenderRequest(10, str(MODEL), scene.with_(psi=0.6)))
    assert res.first_layer == 0
    assert np.array_equal(res.image, Renderer("cpu")(RenderRequest(11, str(MODEL), scene.with_(psi=0.6))).image)


def test_the_fast_precision_is_opt_in_and_close(one_thread):
    r = Renderer("cpu")
    scene = _scene()
    exact = r(RenderRequest(1, str(MODEL), scene))
    assert exact.precision == "exact"
    fast = r(RenderRequest(2, str(MODEL), scene, precision="fast"))
    assert fast.ok
    if fast_dtype(torch.device("cpu")) is None:
        assert fast.precision == "exact"  # no native bfloat16 here: the exact frame
        return
    assert fast.precision == "bfloat16" and not fast.exact
    mse = np.mean((fast.image.astype(np.float64) - exact.image) ** 2)
    assert 10 * np.log10(255 ** 2 / max(mse, 1e-12)) > 25  # close to the exact frame ...
    assert not np.array_equal(fast.image, exact.image)  # ... but not it
    # The exact frame after a fast one is the exact frame again.
    again = r(RenderRequest(3, str(MODEL), scene))
    assert again.exact and np.array_equal(again.image, exact.image)


def test_an_unknown_precision_is_one_line():
    res = Renderer("cpu")(RenderRequest(1, str(MODEL), _scene(), precision="half"))
    assert not res.ok and "precision 'half'" in res.error and "\n" not in res.error


def test_the_strip_is_the_scene_at_each_strength(one_thread):
    r = Renderer("cpu")
    scene = _scene(strength=1.0)
    strengths = (-2.0, 0.0, 1.0, 2.5)
    tiles = render_strip(r, scene, 0, strengths, str(MODEL))
    assert tiles.shape[0] == 4
    assert r.last_first_layer == 6  # the strengths shared the scene's layers 0-5
    for tile, s in zip(tiles, strengths):
        frame, _ = Renderer("cpu").render_scene(scene.with_edit(0, strength=s), MODEL)
        # A batch of four and a single frame may round the last bit apart.
        assert np.abs(tile.astype(int) - frame).max() <= 1
    frame, _ = r.render_scene(scene)
    assert np.abs(tiles[2].astype(int) - frame).max() <= 1


def test_two_renderers_share_one_copy_of_the_model(one_thread):
    gc.collect()
    before = shared_count()
    a, b = Renderer("cpu"), Renderer("cpu")
    a.load(MODEL)
    b.load(MODEL)
    assert shared_count() == before + 1
    pa = dict(a.model.generator.named_parameters())
    pb = dict(b.model.generator.named_parameters())
    assert all(pa[k].data_ptr() == pb[k].data_ptr() for k in pa)
    assert a.model.generator is not b.model.generator  # each its own settings (class, input transform)
    del a, b, pa, pb
    gc.collect()
    assert shared_count() == before  # nobody uses it: freed


def test_auto_picks_cuda_then_mps_then_cpu_and_an_absent_device_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(StrataError, match=r"^--device 'mps': Apple's GPU \(MPS\) is not available") as e:
        resolve_device("mps")
    assert "\n" not in str(e.value)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device(None).type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None).type == "cuda"


def test_seed_class_and_input_transform_redraw_everything_and_match_a_fresh_render(fixtures_dir, one_thread):
    cond = str(fixtures_dir / "nvidia_pkl/stylegan2_ada_cond_tiny32.pkl")
    sg3 = str(fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl")
    cases = [(cond, Scene(code=Code.from_seed(1), psi=0.7, class_index=0), dict(class_index=1)),
             (cond, Scene(code=Code.from_seed(1), psi=0.7, class_index=0), dict(code=Code.from_seed(2))),
             (sg3, Scene(code=Code.from_seed(1), psi=0.7), dict(input_transform=(0.1, 0.0, 15.0)))]
    for path, scene, change in cases:
        r = Renderer("cpu")
        assert r(RenderRequest(1, path, scene)).first_layer == 0
        assert r(RenderRequest(2, path, scene)).first_layer == r.model.generator.num_layers  # nothing changed
        changed = scene.with_(**change)
        res = r(RenderRequest(3, path, changed))
        assert res.ok and res.first_layer == 0
        assert np.array_equal(res.image, Renderer("cpu")(RenderRequest(4, path, changed)).image)
        # And back: the first scene's pixels again.
        back = r(RenderRequest(5, path, scene))
        assert np.array_equal(back.image, Renderer("cpu")(RenderRequest(6, path, scene)).image)
