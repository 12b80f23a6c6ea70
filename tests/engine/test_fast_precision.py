"""The fast precision of a StyleGAN v1 model: a copy of the synthesis prepared once in a reduced
type. It computes the same function (float32 proves it), stays close to the exact frame in
bfloat16, is incremental like the exact path, follows weight changes, and leaves the exact
frame as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strata import assets
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.render import Renderer, RenderRequest, fast_dtype, to_uint8
from strata.engine.core.scene import Code, Scene
from strata.engine.core.stylegan import StyleGANGenerator
from tests._models import tiny_generator

needs_bf16 = pytest.mark.skipif(fast_dtype(torch.device("cpu")) is None, reason="no native bfloat16 here")


def small_generator() -> StyleGANGenerator:
    """128 px with every kind of layer: nearest up-sampling (8-32 px), a plain up-sampling
    layer at 64 px (run as a transposed convolution) and a fused one at 128 px."""
    return tiny_generator(128, fmaps_base=256, seed=1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_the_prepared_synthesis_is_the_same_function(one_thread):
    g = small_generator()
    assert g.config.fused == (False, False, False, False, True)
    view = g.reduced_precision(torch.float32)  # float32: only the rearrangement differs
    assert view.kinds == ["const", "conv", "up", "conv", "up", "conv", "up", "conv",
                          "transposed", "conv", "transposed", "conv"]
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(3, g.z_dim)), 0.7)
        wp = wp + torch.randn_like(wp) * 0.3  # a different code on every layer
        exact = g.synthesize(wp)
        out = view.synthesize(wp)
    assert out.dtype == torch.float32 and out.shape == exact.shape
    assert (out - exact).abs().max().item() <= 1e-4 * max(1.0, exact.abs().max().item())


def test_no_prepared_copy_where_the_synthesis_changes_every_call_or_grows(one_thread):
    g = small_generator()
    g.set_noise_mode(True)
    assert g.reduced_precision(torch.bfloat16) is None
    g.set_noise_mode(False)
    g.synthesis.lod.fill_(1.0)
    assert g.reduced_precision(torch.bfloat16) is None


def _scene(g, seed=0):
    rng = np.random.default_rng(seed)
    return Scene(code=Code.from_seed(seed), psi=0.7,
                 edits=(Edit(Boundary("a", rng.standard_normal(g.w_dim)), 1.0, (6, 9)),))


@needs_bf16
def test_fast_frames_are_close_incremental_and_follow_the_weights(tmp_path, one_thread):
    g = small_generator()
    path = tmp_path / "small128.pth"
    torch.save(g.state_dict(), path)
    r = Renderer("cpu")
    scene = _scene(g)
    exact = r(RenderRequest(1, str(path), scene))
    fast = r(RenderRequest(2, str(path), scene, precision="fast"))
    assert fast.ok and fast.precision == "bfloat16" and fast.first_layer == 0
    assert not np.array_equal(fast.image, exact.image) and _psnr(fast.image, exact.image) > 30
    # The frame is the prepared copy's, built from the renderer's own generator.
    gen = r.model.generator
    with torch.inference_mode():
        wp = torch.from_numpy(fast.wp)
        assert np.array_equal(fast.image, to_uint8(gen.reduced_precision(torch.bfloat16).synthesize(wp))[0])

    # A slider move re-runs from its first layer and draws what a fresh renderer draws.
    moved = scene.with_edit(0, strength=-1.5)
    res = r(RenderRequest(3, str(path), moved, precision="fast"))
    assert res.first_layer == 6
    assert np.array_equal(res.image, Renderer("cpu")(RenderRequest(4, str(path), moved, precision="fast")).image)

    # A weight written in place: the prepared copy is built again, every layer re-runs.
    with torch.no_grad():
        gen.synthesis.layer11.epilogue.bias.add_(0.5)
    res = r(RenderRequest(5, str(path), moved, precision="fast"))
    assert res.first_layer == 0
    with torch.inference_mode():
        again = to_uint8(gen.reduced_precision(torch.bfloat16).synthesize(torch.from_numpy(res.wp)))[0]
    assert np.array_equal(res.image, again)
    with torch.no_grad():
        gen.synthesis.layer11.epilogue.bias.sub_(0.5)

    # The exact frame after fast ones is the exact frame of a fresh renderer, bit for bit.
    back = r(RenderRequest(6, str(path), scene))
    assert back.exact and np.array_equal(back.image, exact.image)
    assert np.array_equal(back.image, Renderer("cpu")(RenderRequest(7, str(path), scene)).image)


@needs_bf16
def test_the_bundled_model_fast_frames_are_close(one_thread):
    model = assets.default_model_path()
    r = Renderer("cpu")
    g = r.load(model).generator
    assert hasattr(g, "reduced_precision")
    psnrs = []
    for seed in range(4):
        scene = _scene(g, seed)
        exact, _ = r.render_scene(scene)
        fast, _ = r.render_scene(scene, precision="fast")
        assert r.last_precision == "bfloat16"
        psnrs.append(_psnr(fast, exact))
    assert min(psnrs) > 40, psnrs
