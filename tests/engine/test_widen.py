"""Widening a run keeps what the networks compute, then trains on with the new channels."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from strata.engine.core.errors import StrataError
from strata.engine.rooms.train import TrainConfig, build_state, read_checkpoint, train
from strata.engine.rooms.widen import _G_ROLES, widen_run, widen_state_dict

CFG = TrainConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channels=(16, 8, 4),
                  d_channels=(16, 8, 4), batch_size=8, total_kimg=0.016, checkpoint_every=2,
                  sample_every=100, r1_every=2)


def blobs(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 16, 16, generator=g) * 2 - 1


def _images(G, z):
    G.set_noise_mode(False)
    with torch.no_grad():
        return G.synthesize(G.truncate(G.mapping(z), 0.7))


def test_a_widened_run_draws_and_judges_exactly_as_before_then_trains_its_new_channels(tmp_path):
    train(tmp_path / "old", CFG, source=blobs)  # two steps: weights are no longer their init
    old = build_state(CFG, torch.device("cpu"))
    ck = read_checkpoint(tmp_path / "old" / "checkpoint.pt")
    old.G_ema.load_state_dict(ck["G_ema"])
    old.D.load_state_dict(ck["D"])

    cfg = widen_run(tmp_path / "old", tmp_path / "wide", channels=(16, 16, 12), d_channels=(16, 12, 8))
    assert cfg.channels == (16, 16, 12) and cfg.d_channels == (16, 12, 8)
    wide = build_state(cfg, torch.device("cpu"))
    ck2 = read_checkpoint(tmp_path / "wide" / "checkpoint.pt")
    wide.G_ema.load_state_dict(ck2["G_ema"])
    wide.D.load_state_dict(ck2["D"])
    assert ck2["nimg"] == ck["nimg"] == 16 and ck2["step"] == ck["step"]

    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
    a, b = _images(old.G_ema, z), _images(wide.G_ema, z)
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    real = blobs(8, 7)
    with torch.no_grad():
        assert torch.allclose(old.D(real), wide.D(real), atol=1e-5)

    # The run resumes from the wider folder and its new channels start to matter.
    train(tmp_path / "wide", replace(cfg, total_kimg=0.048), source=blobs)
    ck3 = read_checkpoint(tmp_path / "wide" / "checkpoint.pt")
    w = ck3["G"]["synthesis.output2.conv.weight"]  # to-RGB at 16 px: 4 old inputs, 8 new
    assert w.shape[1] == 12 and w[:, 4:].abs().sum() > 0
    assert ck3["nimg"] == 48


def test_fused_up_sampling_layers_widen_too():
    # HiGAN-style 128 px generators use fused (transposed) up-sampling with [3, 3, in, out] kernels.
    from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator
    kw = dict(resolution=16, z_dim=8, w_dim=8, mapping_layers=1, mapping_hidden=8, fused=(True, True))
    torch.manual_seed(0)
    narrow = StyleGANGenerator(StyleGANConfig(channels=(8, 8, 4), **kw))
    for p in narrow.parameters():  # not the zeros/ones of an init, so that every weight matters
        p.data.normal_()
    wide = StyleGANGenerator(StyleGANConfig(channels=(8, 12, 8), **kw))
    wide.load_state_dict(widen_state_dict(narrow.state_dict(), wide.state_dict(), _G_ROLES))
    z = torch.randn(4, 8)
    assert torch.allclose(_images(narrow, z), _images(wide, z), atol=1e-4)


def test_widening_refuses_to_narrow_or_overwrite(tmp_path):
    train(tmp_path / "old", CFG, source=blobs)
    with pytest.raises(StrataError, match="narrower"):
        widen_run(tmp_path / "old", tmp_path / "w", channels=(16, 8, 2))
    with pytest.raises(StrataError, match="at 4 px"):
        widen_run(tmp_path / "old", tmp_path / "w", channels=(32, 8, 4))
    with pytest.raises(StrataError, match="already holds a run"):
        widen_run(tmp_path / "old", tmp_path / "old", channels=(16, 8, 8))
    with pytest.raises(StrataError, match="no checkpoint"):
        widen_run(tmp_path / "nowhere", tmp_path / "w", channels=(16, 8, 8))


def test_strata_train_widen_from_starts_a_wider_run_and_the_same_command_resumes_it(tmp_path, capsys):
    from strata.app.cli import main
    old = replace(CFG, resolution=32, channels=(16, 8, 8, 4), d_channels=(16, 8, 8, 4))
    train(tmp_path / "old", old, should_stop=iter([False, True]).__next__)  # the rooms world, one step
    before = (tmp_path / "old" / "checkpoint.pt").read_bytes()
    cmd = ["train", str(tmp_path / "wide"), "--widen-from", str(tmp_path / "old"), "--channels", "16,8,16,8",
           "--kimg", "0.016", "--threads", "1"]
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert "widened" in out and "generator [16, 8, 16, 8]" in out and "finished" in out
    ck = read_checkpoint(tmp_path / "wide" / "checkpoint.pt")
    assert ck["G"]["synthesis.layer4.conv.weight"].shape[0] == 16 and ck["nimg"] == 16
    assert (tmp_path / "old" / "checkpoint.pt").read_bytes() == before  # the old run is untouched
    assert main(cmd[:-4] + ["--kimg", "0.024", "--threads", "1"]) == 0  # again: resumes, does not re-widen
    assert "widened" not in capsys.readouterr().out
    assert read_checkpoint(tmp_path / "wide" / "checkpoint.pt")["nimg"] == 24
    assert main(["train", str(tmp_path / "w2"), "--widen-from", str(tmp_path / "old"), "--channels", "16,4,8,4"]) == 1
    assert "narrower" in capsys.readouterr().err
