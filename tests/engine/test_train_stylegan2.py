"""`strata train --arch stylegan2`: a StyleGAN2 run learns, resumes, exports a file the editor
opens as StyleGAN2, and refuses what does not apply to it (another architecture on resume,
widening, progressive growing)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from strata.engine.core.errors import StrataError
from strata.engine.core.models import load_generator
from strata.engine.rooms.train import TrainConfig, export_checkpoint, make_generator, train

from .test_train_eval import CFG, blobs

CFG2 = replace(CFG, architecture="stylegan2")


def _images(g, n: int = 256) -> torch.Tensor:
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        return g.synthesize(g.truncate(g.mapping(z), 1.0))


def _column_spread(x: torch.Tensor) -> float:
    """How far pixels stray from their column's mean (0 for the vertical bars of `blobs`)."""
    return float((x - x.mean(dim=2, keepdim=True)).abs().mean())


def test_a_stylegan2_run_learns_the_data_and_exports_a_stylegan2_file(tmp_path):
    cfg = replace(CFG2, total_kimg=1.6, lr=0.005, checkpoint_every=1000, sample_every=1000)  # 200 steps of 8
    train(tmp_path / "run", cfg, source=blobs, out_model=tmp_path / "g.pth")
    model = load_generator(tmp_path / "g.pth", "cpu")
    g = model.generator
    assert g.architecture == "stylegan2" and g.resolution == 16 and g.num_layers == 6
    assert g.truncation_layers == cfg.truncation_layers
    assert g.w_avg.abs().sum() > 0  # tracked during training, saved as latent_avg
    real, before, after = blobs(256, 99), _images(make_generator(cfg)), _images(g)
    # The bars are 30% white on black: the trained generator's brightness and vertical
    # structure move to the data's; a fresh one's do not.
    assert abs(float(after.mean() - real.mean())) < 0.15 < abs(float(before.mean() - real.mean()))
    assert _column_spread(after) < 0.8 * _column_spread(before)
    assert model.meta["train_config"]["architecture"] == "stylegan2"


def test_a_stylegan2_run_stops_resumes_and_exports_the_same_weights(tmp_path):
    s1 = train(tmp_path / "run", CFG2, source=blobs, should_stop=iter([False, False, True]).__next__)
    assert not s1["finished"] and s1["steps"] == 2
    s2 = train(tmp_path / "run", CFG2, source=blobs, out_model=tmp_path / "g.pth")
    assert s2["finished"] and s2["steps"] == 6
    assert json.loads((tmp_path / "run" / "config.json").read_text())["architecture"] == "stylegan2"
    assert list((tmp_path / "run").glob("samples_*.png"))
    export_checkpoint(tmp_path / "run", tmp_path / "again.pth")
    a, b = (load_generator(p, "cpu").generator for p in (tmp_path / "g.pth", tmp_path / "again.pth"))
    assert torch.equal(_images(a, 4), _images(b, 4))


def test_the_command_starts_a_stylegan2_run_and_keeps_its_architecture(tmp_path, capsys):
    from strata.app.cli import main

    run = tmp_path / "run"
    assert main(["train", str(run), "--arch", "stylegan2", "--resolution", "32", "--channels", "16,16,8,8",
                 "--batch", "4", "--kimg", "0.008", "--threads", "1"]) == 0
    assert "finished" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["architecture"] == "stylegan2"
    with pytest.raises(SystemExit):
        main(["train", str(run), "--arch", "stylegan"])
    assert "is a stylegan2 run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "other"), "--arch", "stylegan2", "--progressive", "10"])
    assert "--progressive" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "wide"), "--widen-from", str(run), "--channels", "16,32,16,16"]) == 1
    assert "only StyleGAN (v1) runs can be widened" in capsys.readouterr().err


def test_a_stylegan2_configuration_that_cannot_be_built_is_refused():
    with pytest.raises(ValueError, match="z_dim == w_dim"):
        replace(CFG2, z_dim=32)
    with pytest.raises(ValueError, match="progressive"):
        replace(CFG2, progressive_kimg=10.0)
    with pytest.raises(ValueError, match="architecture must be one of"):
        TrainConfig(architecture="stylegan3")


def test_widening_a_stylegan2_checkpoint_is_a_strata_error(tmp_path):
    from strata.engine.rooms.widen import widen_run

    train(tmp_path / "run", CFG2, source=blobs, should_stop=iter([False, True]).__next__)
    with pytest.raises(StrataError, match="only StyleGAN \\(v1\\) runs can be widened"):
        widen_run(tmp_path / "run", tmp_path / "wide", channels=(16, 32, 16))
