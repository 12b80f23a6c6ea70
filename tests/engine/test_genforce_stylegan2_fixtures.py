"""HiGAN's StyleGAN2 release (genforce's key layout, as ``stylegan2_church256_generator.pth``)
loads by path alone, reproduces genforce's outputs, renders from the command line, takes
HiGAN's church boundaries, and a damaged file is one line naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from strata.app.cli import main
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator, save_generator
from tests._reference import change_by_entry, close, higan_pixels

NAME = "stylegan2_tiny32"


@pytest.fixture
def base(fixtures_dir):
    return fixtures_dir / "genforce_stylegan2" / NAME


@pytest.fixture
def fixture(reference):
    return reference(f"genforce_stylegan2/{NAME}", ".pth")


@pytest.fixture
def state(base):
    return torch.load(base.with_suffix(".pth"), weights_only=True)


def test_configuration_is_inferred_from_keys_and_shapes(fixture, base):
    g, _, meta = fixture
    assert load_generator(base.with_suffix(".pth"), device="cpu").format == "higan-stylegan2"
    assert g.architecture == "stylegan2" and meta["architecture_type"] == "skip"
    assert g.resolution == meta["resolution"]
    assert g.z_dim == meta["z_space_dim"] and g.w_dim == meta["w_space_dim"]
    assert g.config.mapping_layers == meta["num_mapping_layers"]
    assert g.num_layers == meta["num_layers"] == 8
    res = [4 * 2**i for i in range(4)]
    assert list(g.config.channels) == [min(meta["fmaps_base"] // r, meta["fmaps_max"]) for r in res]
    assert g.layer_resolutions == (4, 8, 8, 16, 16, 32, 32, 32)
    # HiGAN truncates StyleGAN2 with psi 0.5 on every layer.
    assert g.default_psi == meta["truncation_psi"] == 0.5
    assert g.truncation_layers == g.num_layers


def test_mapping_truncation_and_w_avg(fixture):
    g, e, _ = fixture
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        assert close(w, e["w"])
        assert close(g.w_avg, e["w_avg"])
        assert close(g.truncate(w, g.default_psi), e["wp"])
        assert close(g.truncate(w, 1.0), e["wp_untruncated"])


@pytest.mark.parametrize("which", ["", "_untruncated", "_layerwise"])
def test_synthesis_from_wp(fixture, which):
    g, e, _ = fixture
    with torch.inference_mode():
        assert close(g.synthesize(torch.from_numpy(e[f"wp{which}"])), e[f"image{which}"])


def test_z_to_image_with_the_default_truncation(fixture):
    g, e, _ = fixture
    with torch.inference_mode():
        img = g.synthesize(g.truncate(g.mapping(torch.from_numpy(e["z"])), g.default_psi))
    assert close(img, e["image"])


def test_every_w_plus_entry_changes_the_image(fixture):
    # Entry 7 drives only the last to-RGB, entry 1 the first: both must be wired.
    g, e, _ = fixture
    wp = torch.from_numpy(e["wp_layerwise"][:1])
    for j, change in enumerate(change_by_entry(g, wp)):
        assert change > 1e-3, j


def test_strata_format_round_trip(fixture, tmp_path):
    g, e, _ = fixture
    save_generator(g, tmp_path / "own.pth", meta={"name": "church-ish"})
    m = load_generator(tmp_path / "own.pth", device="cpu")
    assert m.format == "strata" and m.name == "church-ish"
    g2 = m.generator
    assert g2.architecture == "stylegan2" and g2.default_psi == 0.5 and g2.truncation_layers == 8
    assert torch.equal(g2.w_avg, g.w_avg)
    with torch.inference_mode():
        assert close(g2.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])


def test_info_names_the_format_and_architecture(base, capsys):
    assert main(["info", str(base.with_suffix(".pth"))]) == 0
    out = capsys.readouterr().out
    assert "format:       HiGAN / genforce StyleGAN2 state dict" in out
    assert "architecture: stylegan2" in out and "resolutions 4, 8, 8, 16, 16, 32, 32, 32" in out
    assert "channels:     4px:64, 8px:64, 16px:64, 32px:32" in out
    assert "truncation:   psi 0.5 on layers 0-7" in out


def test_render_cli_reproduces_genforce_pixels(base, tmp_path):
    e = np.load(f"{base}_expected.npz")
    np.save(tmp_path / "wp.npy", e["wp_layerwise"][:1])
    out = tmp_path / "out.png"
    assert main(["render", "-m", str(base.with_suffix(".pth")), "--latent", str(tmp_path / "wp.npy"),
                 "-o", str(out)]) == 0
    expected = higan_pixels(e["image_layerwise"][:1])[0]
    got = np.asarray(Image.open(out).convert("RGB"))
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected).max() <= 1


def _church_sized_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random generator in HiGAN's StyleGAN2 layout with the church model's z and w
    size (512), small otherwise: HiGAN's church boundaries must apply to it."""
    g = torch.Generator().manual_seed(seed)
    w, c, n_map = 512, (16, 8), 2

    def rnd(*shape):
        return torch.randn(*shape, generator=g)

    kernel = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1]))
    kernel = (kernel / kernel.sum() * 4).view(1, 1, 4, 4)
    s = {}
    for i in range(n_map):
        s[f"mapping.dense{i}.fc.weight"], s[f"mapping.dense{i}.bias"] = rnd(w, w) * 100, rnd(w)
    s["truncation.w_avg"] = rnd(w)
    s["synthesis.early_layer.const"] = rnd(1, c[0], 4, 4)
    for i, (cin, cout, res) in enumerate([(c[0], c[0], 4), (c[0], c[1], 8), (c[1], c[1], 8)]):
        p = f"synthesis.layer{i}"
        s.update({f"{p}.weight": rnd(3, 3, cin, cout), f"{p}.bias": rnd(cout) * 0.1,
                  f"{p}.noise_strength": torch.tensor(0.1), f"{p}.noise": rnd(1, 1, res, res),
                  f"{p}.style.fc.weight": rnd(cin, w), f"{p}.style.bias": rnd(cin) * 0.1})
        if i % 2:
            s[f"{p}.filter.kernel"] = kernel.clone()
    for k, ch in enumerate(c):
        p = f"synthesis.output{k}"
        s.update({f"{p}.weight": rnd(1, 1, ch, 3), f"{p}.bias": rnd(3) * 0.1,
                  f"{p}.style.fc.weight": rnd(ch, w), f"{p}.style.bias": rnd(ch) * 0.1})
    s["synthesis.upsample.kernel"] = kernel.clone()
    return s


def test_higan_church_boundary_edits_the_image(fixtures_dir, tmp_path):
    model = tmp_path / "stylegan2_church_like_generator.pth"
    torch.save(_church_sized_state(), model)
    clouds = fixtures_dir / "higan_boundaries" / "stylegan2_church" / "clouds_boundary.npy"
    m = load_generator(model, device="cpu")
    assert m.format == "higan-stylegan2" and m.generator.w_dim == 512 == np.load(clouds).shape[-1]
    plain, edited = tmp_path / "plain.png", tmp_path / "edited.png"
    assert main(["render", "-m", str(model), "-s", "3", "-o", str(plain)]) == 0
    assert main(["render", "-m", str(model), "-s", "3", "-b", str(clouds), "-e", "clouds=3",
                 "-o", str(edited)]) == 0
    a = np.asarray(Image.open(plain).convert("RGB")).astype(int)
    b = np.asarray(Image.open(edited).convert("RGB")).astype(int)
    assert a.shape == b.shape == (8, 8, 3)
    assert np.abs(a - b).max() > 8  # a visible change, not rounding


def test_a_church_boundary_on_the_64_dim_fixture_names_both_sizes(base, fixtures_dir, tmp_path, capsys):
    clouds = fixtures_dir / "higan_boundaries" / "stylegan2_church" / "clouds_boundary.npy"
    code = main(["render", "-m", str(base.with_suffix(".pth")), "-s", "1", "-b", str(clouds),
                 "-e", "clouds=3", "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code != 0 and "512" in err and "64" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def _one_line(exc: pytest.ExceptionInfo, path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def _refusal(state: dict, path) -> str:
    """Save ``state`` at ``path``, load it, and return the one line that refuses it."""
    torch.save(state, path)
    with pytest.raises(ModelLoadError) as exc:
        load_generator(path)
    return _one_line(exc, path)


def test_truncated_file_is_one_line_naming_it(base, tmp_path):
    data = base.with_suffix(".pth").read_bytes()
    bad = tmp_path / "cut.pth"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as exc:
        load_generator(bad)
    assert "corrupt or truncated" in _one_line(exc, bad)


@pytest.mark.parametrize("key", ["synthesis.layer4.noise_strength", "synthesis.output3.bias",
                                 "truncation.w_avg", "synthesis.upsample.kernel",
                                 "synthesis.layer5.filter.kernel", "mapping.dense2.bias"])
def test_missing_key_is_one_line_naming_file_and_key(state, tmp_path, key):
    del state[key]
    assert f"missing key {key}" in _refusal(state, tmp_path / "missing.pth")


def test_missing_last_resolution_is_named(state, tmp_path):
    for k in [k for k in state if k.startswith(("synthesis.layer6.", "synthesis.output3."))]:
        del state[k]
    assert "synthesis.layer6.weight" in _refusal(state, tmp_path / "short.pth")


@pytest.mark.parametrize("key, shape, expected", [
    ("synthesis.layer4.weight", (3, 3, 64, 31), "[3, 3, 64, 64]"),
    ("synthesis.layer6.style.fc.weight", (32, 63), "[32, 64]"),
    ("synthesis.output2.weight", (1, 1, 64, 4), "[1, 1, 64, 3]"),
    ("truncation.w_avg", (63,), "[64]"),
    ("synthesis.layer2.noise", (1, 1, 4, 4), "[1, 1, 8, 8]"),
])
def test_wrong_shape_is_one_line_with_the_expected_shape(state, tmp_path, key, shape, expected):
    state[key] = torch.zeros(shape)
    assert f"{key} has shape {list(shape)}, expected {expected}" in _refusal(state, tmp_path / "shape.pth")


def test_nan_weights_and_unknown_keys_are_named(state, tmp_path):
    bad = tmp_path / "nan.pth"
    nan = dict(state)
    nan["synthesis.layer3.weight"] = torch.full_like(state["synthesis.layer3.weight"], float("nan"))
    torch.save(nan, bad)
    with pytest.raises(ModelLoadError) as exc:
        load_generator(bad)
    assert "synthesis.layer3.weight holds NaN" in _one_line(exc, bad)
    extra = tmp_path / "extra.pth"
    torch.save({**state, "synthesis.skip_layer0.weight": torch.zeros(64, 64, 1, 1)}, extra)
    with pytest.raises(ModelLoadError) as exc:
        load_generator(extra)
    assert "'resnet'" in _one_line(exc, extra)


def test_the_dropped_truncation_buffer_is_accepted_when_present(state, tmp_path, fixture):
    # genforce's own state_dict() carries truncation.truncation; HiGAN's converter drops it.
    g, e, _ = fixture
    with_buffer = tmp_path / "with_buffer.pth"
    torch.save({**state, "truncation.truncation": torch.ones(1, 8, 1)}, with_buffer)
    g2 = load_generator(with_buffer, device="cpu").generator
    with torch.inference_mode():
        assert close(g2.synthesize(torch.from_numpy(e["wp"])), e["image"])


def test_a_state_dict_under_generator_smooth_opens_the_same(state, tmp_path, fixture):
    # genforce training checkpoints keep the averaged generator under generator_smooth.
    g, e, _ = fixture
    ckpt = tmp_path / "checkpoint.pth"
    torch.save({"generator": state, "generator_smooth": state}, ckpt)
    m = load_generator(ckpt, device="cpu")
    assert m.format == "higan-stylegan2"
    with torch.inference_mode():
        assert close(m.generator.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])
