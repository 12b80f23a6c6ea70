"""The window's frame renderer, its preview strip and a discovery run on the same file share
one copy of the model; a frame can be asked for in the fast precision."""

from __future__ import annotations

import gc

import numpy as np

from strata.engine.core import model_cache
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.scene import Code, Scene


def _scene():
    b = Boundary("wood", np.random.RandomState(0).randn(16), layers=None)
    return Scene(code=Code.from_seed(1), psi=0.7, edits=(Edit(b, 1.0, (2, 5)),))


def test_frames_and_strips_share_the_model_and_say_their_precision(qtbot, tiny_model):
    from strata.app.engine_adapter import EngineAdapter

    gc.collect()
    before = model_cache.shared_count()
    engine = EngineAdapter("cpu")
    try:
        with qtbot.waitSignal(engine.resultReady, timeout=20000) as frame:
            engine.request(str(tiny_model), _scene(), precision="fast")
        with qtbot.waitSignal(engine.stripReady, timeout=20000) as strip:
            engine.request_strip(str(tiny_model), _scene(), 0, (-1.0, 0.0, 1.0))
        result = frame.args[0]
        assert result.ok and result.precision in ("exact", "bfloat16")
        assert strip.args[0].images.shape[0] == 3
        assert model_cache.shared_count() == before + 1  # one model open for both threads
        a = dict(engine.renderer.model.generator.named_parameters())
        b = dict(engine._strip_renderer.model.generator.named_parameters())
        assert all(a[k].data_ptr() == b[k].data_ptr() for k in a)
    finally:
        engine.close()


def test_a_discovery_run_reuses_the_model_the_window_holds(tiny_model, tmp_path, monkeypatch):
    from strata.engine.core.render import Renderer
    from strata.engine.discovery.pipeline import run_discovery
    from tests.engine.test_analysis import RegionPredictor

    loads = []
    real = model_cache.load_generator
    monkeypatch.setattr(model_cache, "load_generator", lambda *a, **k: loads.append(a) or real(*a, **k))
    r = Renderer("cpu")
    r.load(tiny_model)
    assert len(loads) == 1
    run_discovery(tiny_model, predictor=RegionPredictor(), n=40, m=2, k=0.2, out_dir=tmp_path / "run",
                  batch_size=20, device="cpu")
    assert len(loads) == 1  # the window's copy, not a second one
