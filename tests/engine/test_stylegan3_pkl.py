"""NVIDIA's StyleGAN3-T pickle opens by path alone and reproduces the authors' code:
mapping, truncation, layer-wise codes, images; its filters are the paper's Kaiser
designs; a file that does not fit is one line naming the key; the input transform
moves the picture."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from strata.engine.core import models
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator
from strata.engine.core.protocol import Generator
from strata.engine.core.stylegan3 import (StyleGAN3Config, StyleGAN3Generator, config_from_nvidia_kwargs,
                                          from_nvidia_record, input_transform_matrix)
from tests._reference import change_by_entry, close

NAME = "nvidia_pkl/stylegan3t_tiny32"
READER = "strata.engine.core.nvidia_pkl"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded():
    from tests._reference import SHARED_FIXTURES

    if READER not in models.PICKLE_READERS:
        pytest.skip(f"load_generator does not read NVIDIA pickles yet ({READER} is not in "
                    "models.PICKLE_READERS)")
    base = SHARED_FIXTURES / NAME
    model = load_generator(base.with_suffix(".pkl"), device="cpu")
    return model, np.load(f"{base}_expected.npz"), json.loads(base.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def description():
    from tests._reference import SHARED_FIXTURES

    return json.loads((SHARED_FIXTURES / NAME).with_suffix(".json").read_text())


def _record(description: dict, **changes) -> SimpleNamespace:
    """What the pickle records of the generator's construction, from the fixture's JSON."""
    kwargs = dict(z_dim=description["z_dim"], c_dim=0, w_dim=description["w_dim"],
                  img_resolution=description["img_resolution"], img_channels=3,
                  mapping_kwargs={"num_layers": description["mapping_layers"]}, **description["kwargs"])
    kwargs.update(changes)
    return SimpleNamespace(class_name="Generator", module_name="networks_stylegan3", init_args=(),
                           init_kwargs=kwargs)


def _max_err(got, expected) -> float:
    return float(np.abs(np.asarray(got) - expected).max())


# --------------------------------------------------------------------------- the fixture


def test_configuration_from_the_recorded_arguments(loaded):
    model, _, meta = loaded
    g = model.generator
    assert isinstance(g, StyleGAN3Generator) and isinstance(g, Generator)
    assert g.architecture == "stylegan3" and model.format == "nvidia-stylegan3"
    assert (g.resolution, g.z_dim, g.w_dim) == (meta["img_resolution"], meta["z_dim"], meta["w_dim"])
    assert g.num_layers == meta["num_ws"] == 16
    assert g.config.mapping_layers == meta["mapping_layers"]
    assert g.config.output_scale == meta["kwargs"]["output_scale"]
    # Entry 0 drives the Fourier input (16 samples per unit), entry i + 1 layer i.
    assert g.layer_resolutions == (16,) * 6 + (32,) * 10
    assert g.default_psi == 0.7 and g.truncation_layers == 16


def test_mapping_w_avg_and_image(loaded):
    g, e = loaded[0].generator, loaded[1]
    with torch.inference_mode():
        ws = g.truncate(g.mapping(torch.from_numpy(e["z"])), 1.0)
        assert close(ws, e["ws"]), _max_err(ws, e["ws"])
        assert close(g.w_avg, e["w_avg"])
        image = g.synthesize(torch.from_numpy(e["ws"]))
        assert close(image, e["image"]), _max_err(image, e["image"])
        assert close(g.synthesize(ws), e["image"])


def test_truncation_every_entry_toward_w_avg(loaded):
    g, e = loaded[0].generator, loaded[1]
    with torch.inference_mode():
        wt = g.truncate(g.mapping(torch.from_numpy(e["z"])), g.default_psi)
        assert close(wt, e["ws_truncated"]), _max_err(wt, e["ws_truncated"])
        image = g.synthesize(wt)
        assert close(image, e["image_truncated"]), _max_err(image, e["image_truncated"])


def test_layerwise_codes(loaded):
    g, e = loaded[0].generator, loaded[1]
    with torch.inference_mode():
        image = g.synthesize(torch.from_numpy(e["ws_layerwise"]))
    assert close(image, e["image_layerwise"]), _max_err(image, e["image_layerwise"])


def test_every_w_plus_entry_changes_the_image(loaded):
    # The last entry reaches the image only through the to-RGB: it must still be wired.
    # Entry 0 drives the input's rotation/translation, whose affine this file keeps at
    # NVIDIA's initial zero weights: there it must change nothing.
    g, e = loaded[0].generator, loaded[1]
    wp = torch.from_numpy(e["ws_layerwise"][:1])
    assert not g.synthesis.input.affine.weight.any()
    for j, change in enumerate(change_by_entry(g, wp)):
        assert (change > 1e-3) if j else (change == 0), j


def test_the_input_affine_moves_the_image_as_the_user_transform_does(loaded):
    # Entry 0 predicts (cos, sin, tx, ty): a bias of (1, 0, 0.25, 0) is the same move as
    # the user transform for a quarter of the image to the right.
    g, e = copy.deepcopy(loaded[0].generator), loaded[1]
    wp = torch.from_numpy(e["ws_truncated"])
    with torch.inference_mode():
        g.with_input_transform(translate=(0.25, 0.0))
        by_user = g.synthesize(wp)
        g.with_input_transform()
        g.synthesis.input.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.25, 0.0]))
        by_w = g.synthesize(wp)
        assert torch.allclose(by_w, by_user, atol=1e-4)
        # With weights, entry 0 turns and moves the picture.
        g.synthesis.input.affine.weight.normal_(generator=torch.Generator().manual_seed(0))
        ref = g.synthesize(wp)
        moved = wp.clone()
        moved[:, 0] += 1.0
        assert (g.synthesize(moved) - ref).abs().max() > 1e-2


def test_stored_filters_are_the_kaiser_designs(loaded):
    # The file carries up/down filters; rebuilding them from the configuration
    # (sampling rates, cutoffs, transition bands) gives the same taps.
    g = loaded[0].generator
    fresh = StyleGAN3Generator(g.config).state_dict()
    names = [k for k in fresh if k.endswith(("up_filter", "down_filter"))]
    assert len(names) == 2 * 14  # the to-RGB resamples nothing
    for k in names:
        assert torch.allclose(fresh[k], g.state_dict()[k], atol=1e-7), k


def test_input_transform_moves_the_image(loaded):
    g, e = loaded[0].generator, loaded[1]
    wp = torch.from_numpy(e["ws_truncated"])
    try:
        with torch.inference_mode():
            before = g.synthesize(wp)
            m = g.with_input_transform(translate=(0.25, 0.0))
            assert torch.equal(g.synthesis.input.transform, m)
            right = g.synthesize(wp)
            g.with_input_transform(translate=(0.0, -0.125))
            up = g.synthesize(wp)
            g.with_input_transform(rotate=30.0)
            turned = g.synthesize(wp)
    finally:
        g.with_input_transform()
    assert torch.equal(g.synthesis.input.transform, torch.eye(3))
    # A quarter of 32 px is 8 px to the right: the moved picture matches where it overlaps
    # (away from the borders, where new content appears) and differs where it was.
    assert (right[..., 10:30] - before[..., 2:22]).abs().mean() < 0.1 * (right - before).abs().mean()
    # An eighth of the image up is 4 px.
    assert (up[:, :, 2:26] - before[:, :, 6:30]).abs().mean() < 0.1 * (up - before).abs().mean()
    assert (turned - before).abs().mean() > 0.05 * before.abs().mean()


# --------------------------------------------------------------------------- without the pickle reader


def test_identity_transform_matrix():
    assert torch.allclose(input_transform_matrix(), torch.eye(3))
    m = input_transform_matrix((0.5, -0.25), 90.0)
    # The buffer holds the inverse of the image's transform.
    fwd = torch.linalg.inv(m)
    assert torch.allclose(fwd[:2, 2], torch.tensor([0.5, -0.25]))
    assert torch.allclose(fwd[:2, :2], torch.tensor([[0.0, 1.0], [-1.0, 0.0]]), atol=1e-6)


def test_config_follows_the_recorded_arguments(description):
    cfg = config_from_nvidia_kwargs((), _record(description).init_kwargs)
    assert (cfg.resolution, cfg.z_dim, cfg.w_dim, cfg.mapping_layers) == (32, 64, 64, 2)
    assert (cfg.channel_base, cfg.channel_max, cfg.output_scale, cfg.conv_clamp) == (2048, 64, 2.0, 256)
    assert not cfg.use_radial_filters and cfg.conv_kernel == 3
    g = StyleGAN3Generator(cfg)
    assert [n for n in g.synthesis.layer_names][:2] == ["L0_36_64", "L1_36_64"]
    assert g.synthesis.layer_names[-1] == "L14_32_3"
    with pytest.raises(ModelLoadError, match="lrelu_slope"):
        config_from_nvidia_kwargs((), _record(description, lrelu_slope=0.1).init_kwargs)


def test_class_conditional_mapping(description):
    rec = _record(description, c_dim=5)
    torch.manual_seed(2)
    state = StyleGAN3Generator(config_from_nvidia_kwargs((), rec.init_kwargs)).state_dict()
    # The label embedding joins z before the first dense layer.
    assert list(state["mapping.embed.weight"].shape) == [64, 5]
    assert list(state["mapping.fc0.weight"].shape) == [64, 128]
    g = from_nvidia_record(rec, "c.pkl", state=state)
    assert g.num_classes == 5 and g.class_index == 0
    z = torch.randn(2, 64)
    with torch.inference_mode():
        w0 = g.mapping(z)
        g.class_index = 3
        w3 = g.mapping(z)
        # NVIDIA's mapping, from its published description: one-hot label, embed, normalise both.
        m = g.mapping
        y = m.embed(torch.eye(5)[[3, 3]])
        x = torch.cat([z * z.square().mean(1, keepdim=True).add(1e-8).rsqrt(),
                       y * y.square().mean(1, keepdim=True).add(1e-8).rsqrt()], dim=1)
        x = m.fc1(m.fc0(x))
    assert (w3 - w0).abs().max() > 1e-3
    assert torch.allclose(w3, x, atol=1e-5)
    with pytest.raises(ValueError, match="0-4"):
        g.class_index = 5
    with pytest.raises(ValueError, match="not class-conditional"):
        StyleGAN3Generator(StyleGAN3Config(resolution=16, z_dim=8, w_dim=8, synthesis_layers=4)).class_index = 1


@pytest.fixture(scope="module")
def fitting_state(description):
    torch.manual_seed(0)
    rec = _record(description)
    return rec, StyleGAN3Generator(config_from_nvidia_kwargs((), rec.init_kwargs)).state_dict()


def test_strict_load_names_the_key(fitting_state):
    rec, state = fitting_state
    g = from_nvidia_record(rec, "g.pkl", state=state)
    assert all(torch.equal(v, state[k]) for k, v in g.state_dict().items())
    # The brief's (record, state) form works too.
    assert isinstance(from_nvidia_record(rec, dict(state)), StyleGAN3Generator)

    missing = {k: v for k, v in state.items() if k != "synthesis.L3_36_64.down_filter"}
    with pytest.raises(ModelLoadError, match=r"g\.pkl: missing synthesis\.L3_36_64\.down_filter"):
        from_nvidia_record(rec, "g.pkl", state=missing)
    wrong = dict(state, **{"synthesis.input.freqs": torch.zeros(32, 2)})
    with pytest.raises(ModelLoadError, match=r"synthesis\.input\.freqs has shape \[32, 2\]"):
        from_nvidia_record(rec, "g.pkl", state=wrong)
    extra = dict(state, **{"synthesis.L15_32_3.weight": torch.zeros(1)})
    with pytest.raises(ModelLoadError, match=r"unexpected synthesis\.L15_32_3\.weight"):
        from_nvidia_record(rec, "g.pkl", state=extra)
    bad = dict(state, **{"mapping.w_avg": torch.full((64,), float("nan"))})
    with pytest.raises(ModelLoadError, match=r"mapping\.w_avg holds NaN"):
        from_nvidia_record(rec, "g.pkl", state=bad)


def test_stylegan3_r_uses_radial_filters_and_1x1_convs():
    cfg = StyleGAN3Config(resolution=32, z_dim=16, w_dim=16, channel_base=1024, channel_max=32,
                          conv_kernel=1, use_radial_filters=True, synthesis_layers=6)
    torch.manual_seed(1)
    g = StyleGAN3Generator(cfg).eval()
    layers = [getattr(g.synthesis, n) for n in g.synthesis.layer_names]
    # Radial down-filters except in the critically sampled layers (and the to-RGB).
    assert [None if l.down_filter is None else l.down_filter.ndim for l in layers] == [2, 2, 2, 2, 1, 1, None]
    assert all(l.weight.shape[-1] == 1 for l in layers)
    with torch.inference_mode():
        image = g(torch.randn(2, 16), psi=0.7)
    assert image.shape == (2, 3, 32, 32) and torch.isfinite(image).all()
    assert image.abs().max() > 0


def test_radial_filter_matches_the_jinc_design():
    scipy_special = pytest.importorskip("scipy.special")
    scipy_signal = pytest.importorskip("scipy.signal")
    from strata.engine.core._filtered_lrelu import design_lowpass_filter

    numtaps, cutoff, width, fs = 24, 4.0, 6.5, 64
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy_special.j1(2 * np.pi * cutoff * r) / (np.pi * r)
    beta = scipy_signal.kaiser_beta(scipy_signal.kaiser_atten(numtaps, width / (fs / 2)))
    f *= np.outer(np.kaiser(numtaps, beta), np.kaiser(numtaps, beta))
    expected = f / f.sum()
    assert np.abs(design_lowpass_filter(numtaps, cutoff, width, fs, radial=True).numpy() - expected).max() < 1e-7
    sep = scipy_signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
    assert np.abs(design_lowpass_filter(numtaps, cutoff, width, fs).numpy() - sep).max() < 1e-7


def _upfirdn_by_definition(x: np.ndarray, f: np.ndarray, up: int, down: int, pad: tuple, gain: float):
    """Zero insertion, pad/crop, true convolution ('valid'), decimation: the definition, in NumPy."""
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    u = np.pad(u, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
    u = u[:, :, max(-py0, 0):u.shape[2] - max(-py1, 0), max(-px0, 0):u.shape[3] - max(-px1, 0)]
    k2 = (np.outer(f, f) if f.ndim == 1 else f) * gain
    win = np.lib.stride_tricks.sliding_window_view(u, k2.shape, axis=(2, 3))
    return np.einsum("nchwij,ij->nchw", win, k2[::-1, ::-1])[:, :, ::down, ::down]


@pytest.mark.parametrize("up, down, pad, radial", [
    (2, 1, (9, 8, 9, 8), False), (4, 1, (-6, -9, -6, -9), False), (1, 2, (0, 0, 0, 0), False),
    (1, 2, (0, 0, 0, 0), True), (2, 2, (3, -2, 0, 5), False), (1, 1, (2, 1, -1, 0), True)])
def test_upfirdn2d_follows_its_definition(up, down, pad, radial):
    from strata.engine.core._filtered_lrelu import design_lowpass_filter, upfirdn2d

    g = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 17, 19, generator=g)
    f = design_lowpass_filter(6 * max(up, down, 2), 2.0, 4.0, 16, radial=radial)
    got = upfirdn2d(x, f, up=up, down=down, padding=pad, gain=up * up)
    want = _upfirdn_by_definition(x.double().numpy(), f.double().numpy(), up, down, pad, up * up)
    assert got.shape == want.shape
    assert np.abs(got.numpy() - want).max() < 1e-5
