"""StyleGAN2 checkpoints in the rosinality layout load by path alone and reproduce
that code's outputs; the editor's machinery (edits, recipes, save) works on them."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from strata.app.cli import main
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator, save_generator
from tests._reference import change_by_entry, close, higan_pixels

NAME = "stylegan2_rosinality_tiny32"


@pytest.fixture
def base(fixtures_dir):
    return fixtures_dir / "rosinality_stylegan2" / NAME


@pytest.fixture
def fixture(reference):
    return reference(f"rosinality_stylegan2/{NAME}", ".pt")


def test_configuration_is_inferred_from_keys_and_shapes(fixture):
    g, _, meta = fixture
    assert g.architecture == "stylegan2"
    assert g.resolution == meta["size"] and g.w_dim == g.z_dim == meta["style_dim"]
    assert g.num_layers == meta["n_latent"] == 8
    assert g.config.mapping_layers == meta["n_mlp"]
    assert list(g.config.channels) == [meta["channels"][str(4 * 2**i)] for i in range(4)]
    assert g.layer_resolutions == (4, 8, 8, 16, 16, 32, 32, 32)
    own = {k: list(v.shape) for k, v in g.state_dict().items() if k != "latent_avg"}
    assert own == meta["keys"]


def test_mapping_latent_avg_and_truncation(fixture):
    g, e, _ = fixture
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        assert close(w, e["w"])
        assert close(g.w_avg, e["latent_avg"])
        assert close(g.synthesize(g.truncate(w, 1.0)), e["image"])
        # The port truncates every W+ entry.
        assert close(g.synthesize(g.truncate(w, 0.7)), e["image_truncated"])


def test_layerwise_codes(fixture):
    g, e, _ = fixture
    with torch.inference_mode():
        assert close(g.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])


def test_every_w_plus_entry_changes_the_image(fixture):
    # Entry 7 drives only the last to-RGB: it must still be wired.
    g, e, _ = fixture
    wp = torch.from_numpy(e["wp_layerwise"][:1])
    for j, change in enumerate(change_by_entry(g, wp)):
        assert change > 1e-3, j


def test_bare_state_dict_estimates_latent_avg(fixture, tmp_path):
    g, e, _ = fixture
    state = {k: v for k, v in g.state_dict().items() if k != "latent_avg"}
    torch.save(state, tmp_path / "bare.pt")
    g2 = load_generator(tmp_path / "bare.pt", device="cpu").generator
    # 4,096 samples: the mean of w is close to the file's latent_avg, not equal.
    scale = np.abs(e["w"]).std()
    assert np.abs(g2.w_avg.numpy() - e["latent_avg"]).max() < 0.25 * scale
    with torch.inference_mode():
        assert close(g2.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])


def test_training_checkpoint_with_args_namespace_loads(fixture, tmp_path):
    g, e, _ = fixture
    state = {k: v for k, v in g.state_dict().items() if k != "latent_avg"}
    torch.save({"g": state, "d": {"x": torch.zeros(1)}, "g_ema": state,
                "args": argparse.Namespace(size=32, channel_multiplier=2), "latent_avg": g.w_avg.clone()},
               tmp_path / "train.pt")
    g2 = load_generator(tmp_path / "train.pt", device="cpu").generator
    assert torch.equal(g2.w_avg, g.w_avg)


def test_strata_format_round_trip(fixture, tmp_path):
    g, e, _ = fixture
    save_generator(g, tmp_path / "own.pth", meta={"name": "church-ish"})
    m = load_generator(tmp_path / "own.pth", device="cpu")
    assert m.name == "church-ish" and m.generator.architecture == "stylegan2"
    assert torch.equal(m.generator.w_avg, g.w_avg)
    with torch.inference_mode():
        assert close(m.generator.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])


def test_wrong_shape_and_bad_latent_avg_name_the_file(fixture, tmp_path):
    g, _, _ = fixture
    state = {k: v.clone() for k, v in g.state_dict().items() if k != "latent_avg"}
    state["convs.3.conv.weight"] = torch.zeros(1, 32, 31, 3, 3)
    torch.save({"g_ema": state, "latent_avg": g.w_avg}, tmp_path / "shape.pt")
    with pytest.raises(ModelLoadError, match=r"shape\.pt: convs\.3\.conv\.weight has shape"):
        load_generator(tmp_path / "shape.pt")
    state = {k: v for k, v in g.state_dict().items() if k != "latent_avg"}
    torch.save({"g_ema": state, "latent_avg": torch.zeros(63)}, tmp_path / "avg.pt")
    with pytest.raises(ModelLoadError, match=r"avg\.pt: latent_avg has shape \[63\], expected \[64\]"):
        load_generator(tmp_path / "avg.pt")
    del state["to_rgbs.1.bias"]
    torch.save({"g_ema": state}, tmp_path / "keys.pt")
    with pytest.raises(ModelLoadError, match=r"keys\.pt: keys do not match a StyleGAN2 generator: missing"):
        load_generator(tmp_path / "keys.pt")


def test_render_cli_reproduces_the_port_and_edits(base, tmp_path):
    e = np.load(f"{base}_expected.npz")
    np.save(tmp_path / "wp.npy", e["wp_layerwise"][:1])
    out = tmp_path / "out.png"
    assert main(["render", "-m", f"{base}.pt", "--latent", str(tmp_path / "wp.npy"), "-o", str(out)]) == 0
    expected = higan_pixels(e["image_layerwise"][:1])[0]
    got = np.asarray(Image.open(out).convert("RGB"))
    assert np.abs(got.astype(int) - expected).max() <= 1
    # A boundary edit on the colour layers changes the image and is kept in the recipe.
    from strata.engine.core.boundary import Boundary, save_boundary
    save_boundary(Boundary("tint", np.random.RandomState(0).randn(64), level="colour", layers=(5, 7)),
                  tmp_path / "tint.npz")
    edited = tmp_path / "edited.png"
    assert main(["render", "-m", f"{base}.pt", "-s", "1", "-b", str(tmp_path / "tint.npz"),
                 "-e", "tint=3", "-o", str(edited)]) == 0
    plain = tmp_path / "plain.png"
    assert main(["render", "-m", f"{base}.pt", "-s", "1", "-o", str(plain)]) == 0
    assert not np.array_equal(np.asarray(Image.open(edited)), np.asarray(Image.open(plain)))


def test_info_names_the_architecture_and_layer_resolutions(base, capsys):
    assert main(["info", f"{base}.pt"]) == 0
    out = capsys.readouterr().out
    assert "architecture: stylegan2" in out and "resolutions 4, 8, 8, 16, 16, 32, 32, 32" in out
    assert "format:       StyleGAN2 PyTorch port (rosinality) checkpoint" in out
    assert "channels:     4px:64, 8px:64, 16px:32, 32px:32" in out and "fused up" not in out
