"""`strata render` / `strata info`: headless, exact, and one clear line on a mistake."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from strata.app.cli import main, parse_edit
from strata.engine.core.scene import read_recipe
from tests._reference import higan_pixels


@pytest.mark.parametrize("name", ["stylegan_tiny32", "stylegan_tiny32_fused"])
def test_render_latent_wp_reproduces_the_checkpoint_output(fixtures_dir, tmp_path, name, capsys):
    base = fixtures_dir / "genforce_stylegan" / name
    e = np.load(f"{base}_expected.npz")
    expected = higan_pixels(e["image_layerwise"])
    for i in range(4):
        np.save(tmp_path / "wp.npy", e["wp_layerwise"][i:i + 1])
        out = tmp_path / f"out{i}.png"
        assert main(["render", "--model", f"{base}.pth", "--latent", str(tmp_path / "wp.npy"), "-o", str(out)]) == 0
        got = np.asarray(Image.open(out).convert("RGB"))
        # float32 rounding may flip a value sitting exactly on a .5 boundary; nothing else differs.
        assert np.abs(got.astype(int) - expected[i]).max() <= 1
        assert (got == expected[i]).mean() > 0.995


def test_render_latent_z_with_truncation(fixtures_dir, tmp_path):
    base = fixtures_dir / "genforce_stylegan" / "stylegan_tiny32"
    e = np.load(f"{base}_expected.npz")
    np.save(tmp_path / "z.npy", e["z"][:1])
    out = tmp_path / "z.png"
    assert main(["render", "-m", f"{base}.pth", "--latent", str(tmp_path / "z.npy"), "-t", "0.7", "-o", str(out)]) == 0
    got = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(got - higan_pixels(e["image"])[0]).max() <= 1


def test_render_with_edits_and_recipe_round_trip(tiny_model, tmp_path, capsys):
    from strata.engine.core.boundary import Boundary, save_boundary
    save_boundary(Boundary("wood", np.random.RandomState(0).randn(16), level="attribute", layers=(2, 5)),
                  tmp_path / "wood.npz")
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert main(["render", "-m", str(tiny_model), "-s", "3", "-o", str(a)]) == 0
    assert main(["render", "-m", str(tiny_model), "-s", "3", "-b", str(tmp_path), "-e", "wood=-3@2-5", "-o", str(b)]) == 0
    assert not np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    scene = read_recipe(b)
    assert [(x.boundary.name, x.strength, x.layers) for x in scene.edits] == [("wood", -3.0, (2, 5))]
    assert main(["render", "--recipe", str(b), "-o", str(c)]) == 0
    assert np.array_equal(np.asarray(Image.open(b)), np.asarray(Image.open(c)))


def test_edit_syntax():
    assert parse_edit("wood=-2.5@6-11") == ("wood", -2.5, (6, 11))
    assert parse_edit("view=3") == ("view", 3.0, None)
    assert parse_edit("lamp=1@4") == ("lamp", 1.0, (4, 4))
    with pytest.raises(ValueError, match="NAME=STRENGTH"):
        parse_edit("wood:3")


def test_user_mistakes_are_one_line_on_stderr(tiny_model, tmp_path, capsys):
    assert main(["render", "-m", str(tiny_model), "-e", "nope=1", "-b", str(tmp_path), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("strata: error: --edit 'nope=1': no boundary named 'nope'") and err.count("\n") == 1
    np.save(tmp_path / "bad.npy", np.zeros((2, 2)))
    assert main(["render", "-m", str(tiny_model), "--latent", str(tmp_path / "bad.npy"), "-o", str(tmp_path / "x.png")]) == 1
    assert "bad.npy: code has shape [2, 2]" in capsys.readouterr().err
    assert main(["render", "-m", str(tiny_model), "-o", str(tmp_path / "nodir" / "x.png")]) == 1
    assert "nodir" in capsys.readouterr().err


def test_info_prints_the_inferred_configuration(fixtures_dir, capsys):
    assert main(["info", str(fixtures_dir / "genforce_stylegan" / "stylegan_tiny32_fused.pth")]) == 0
    out = capsys.readouterr().out
    assert "resolution:   32" in out and "layers (W+):  8" in out and "fused up:     8px, 16px, 32px" in out
    assert "z dim:        64" in out and "device:" in out
    assert "format:       HiGAN / genforce StyleGAN state dict" in out


def test_info_says_when_a_model_is_a_snapshot_taken_mid_way_through_progressive_growing(tmp_path, capsys):
    import torch

    from tests._models import tiny_generator
    g = tiny_generator()
    torch.save(g.state_dict(), tmp_path / "full.pth")
    g.synthesis.lod.fill_(1.5)
    torch.save(g.state_dict(), tmp_path / "growing.pth")
    assert main(["info", str(tmp_path / "full.pth")]) == 0
    assert "growing:" not in capsys.readouterr().out
    assert main(["info", str(tmp_path / "growing.pth")]) == 0
    assert "growing:      lod 1.5: draws at 4px fading into 8px, blown up to 16px" in capsys.readouterr().out


def test_a_bad_device_is_one_line(tiny_model, tmp_path, capsys):
    assert main(["render", "-m", str(tiny_model), "--device", "gpu", "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("strata: error: --device 'gpu'") and "Traceback" not in err
