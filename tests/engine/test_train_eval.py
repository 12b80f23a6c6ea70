"""Training resumes from its checkpoint and exports a loadable model; KID behaves as a distance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from strata.engine.rooms.evaluate import kid
from strata.engine.core.models import load_generator
from strata.engine.rooms.train import TrainConfig, export_checkpoint, train

CFG = TrainConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channels=(16, 16, 8),
                  d_channels=(16, 16, 8), batch_size=8, total_kimg=0.048, checkpoint_every=2,
                  sample_every=3, r1_every=2)


def blobs(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1, 1, 16)
    cx = torch.rand(n, 1, 1, generator=g) - 0.5
    img = (x.view(1, 1, -1) - cx).abs() < 0.3
    return (img.float().unsqueeze(1).expand(n, 3, 16, 16) * 2 - 1).contiguous()


def test_stop_and_resume_reaches_the_same_count_and_exports(tmp_path):
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] > 3

    s1 = train(tmp_path / "run", CFG, source=blobs, should_stop=stop_after_three)
    assert not s1["finished"] and s1["steps"] == 3
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    progress = []
    s2 = train(tmp_path / "run", CFG, source=blobs, out_model=tmp_path / "g.pth",
               progress=lambda f, m: progress.append(f))
    assert s2["finished"] and s2["steps"] == 6 and s2["nimg"] == 48
    assert progress[-1] == 1.0
    m = load_generator(tmp_path / "g.pth", "cpu")
    assert m.meta["training_kimg"] == 0.048 and m.generator.resolution == 16
    assert m.generator.w_avg.abs().sum() > 0  # w_avg tracked during training
    assert list((tmp_path / "run").glob("samples_*.png"))
    log = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["log"]
    assert log == []  # six steps: the log has an entry every ten
    info = export_checkpoint(tmp_path / "run", tmp_path / "again.pth")
    assert info["training_steps"] == 6
    z = torch.randn(2, 16)
    a, b = m.generator, load_generator(tmp_path / "again.pth", "cpu").generator
    with torch.inference_mode():
        assert torch.equal(a.synthesize(a.truncate(a.mapping(z), 0.7)), b.synthesize(b.truncate(b.mapping(z), 0.7)))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["resolution"] == 16


def test_the_training_log_keeps_losses_and_the_r1_penalty(tmp_path):
    from dataclasses import replace
    train(tmp_path / "run", replace(CFG, total_kimg=0.24), source=blobs)  # 30 steps
    log = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["log"]
    assert [e["step"] for e in log] == [10, 20, 30]
    assert all(np.isfinite(e["loss_D"]) and np.isfinite(e["loss_G"]) for e in log)
    # R1 runs on every other step here; the log shows its latest value, never the 0 of a step without it.
    assert all(np.isfinite(e["r1"]) and e["r1"] > 0 for e in log)


def test_a_resumed_run_trains_with_the_new_learning_rate(tmp_path):
    # The optimizer state in the checkpoint carries the old rate; `strata train RUN --lr` must win.
    from dataclasses import replace
    train(tmp_path / "run", CFG, source=blobs, should_stop=iter([False, False, True]).__next__)
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ck["opt_G"]["param_groups"][0]["lr"] == CFG.lr
    slower = replace(CFG, lr=CFG.lr / 4)
    train(tmp_path / "run", slower, source=blobs)
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    c = CFG.r1_every / (CFG.r1_every + 1)
    assert ck["opt_G"]["param_groups"][0]["lr"] == slower.lr
    assert ck["opt_D"]["param_groups"][0]["lr"] == slower.lr * c
    assert ck["config"]["lr"] == slower.lr and ck["nimg"] == 48


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.RandomState(0)
    a, b = rng.randn(600, 32), rng.randn(600, 32)
    same, _ = kid(a, b, subsets=10, subset_size=300)
    shifted, _ = kid(a, b + 0.5, subsets=10, subset_size=300)
    assert abs(same) < 0.01
    assert shifted > 10 * max(abs(same), 1e-3)


def test_a_damaged_run_folder_is_one_line_naming_the_file(tmp_path, capsys):
    """A truncated checkpoint, a garbled config.json or another architecture: a message, no traceback."""
    from dataclasses import replace

    import pytest

    from strata.app.cli import main
    from strata.engine.core.errors import StrataError

    run = tmp_path / "run"
    train(run, CFG, source=blobs, should_stop=iter([False, False, True]).__next__)
    ckpt = run / "checkpoint.pt"
    good = ckpt.read_bytes()

    ckpt.write_bytes(good[: len(good) // 2])  # a copy cut short
    assert main(["train", str(run), "--export", str(tmp_path / "g.pth")]) == 1
    err = capsys.readouterr().err
    assert f"{ckpt}: not a readable training checkpoint" in err and "Traceback" not in err
    assert not (tmp_path / "g.pth").exists()
    with pytest.raises(StrataError, match="not a readable training checkpoint"):
        train(run, CFG, source=blobs)

    ckpt.write_bytes(good)
    with pytest.raises(StrataError, match=r"checkpoint.pt: its networks do not fit"):
        train(run, replace(CFG, channels=(32, 16, 8)), source=blobs)

    (run / "config.json").write_text('{"resolution": 16, "z_dim": ')
    assert main(["train", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}: not a training configuration" in err

    assert main(["train", str(tmp_path / "nowhere"), "--export", str(tmp_path / "g.pth")]) == 1
    assert "no checkpoint there" in capsys.readouterr().err


def test_strata_train_resumes_with_a_new_rate_and_weight_average(tmp_path, capsys):
    """`strata train RUN --lr X --ema-kimg Y --r1-gamma Z` on an existing run keeps its architecture and takes the new values."""
    from dataclasses import replace

    from strata.app.cli import main

    run = tmp_path / "run"
    train(run, replace(CFG, resolution=32, channels=(16, 16, 8, 8), d_channels=(16, 16, 8, 8)),
          should_stop=iter([False, True]).__next__)
    assert main(["train", str(run), "--kimg", "0.008", "--lr", "0.0005", "--ema-kimg", "40", "--r1-gamma", "0.05",
                 "--threads", "1"]) == 0
    assert "finished" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["ema_kimg"] == ck["config"]["ema_kimg"] == 40
    assert saved["r1_gamma"] == ck["config"]["r1_gamma"] == 0.05
    assert saved["lr"] == ck["opt_G"]["param_groups"][0]["lr"] == 0.0005
    assert saved["channels"] == [16, 16, 8, 8]  # the run's own architecture, not the command's default
    for flag, bad in (("--lr", "0"), ("--lr", "nan"), ("--ema-kimg", "-1"), ("--r1-gamma", "-0.1")):
        with pytest.raises(SystemExit):  # argparse: a usage message, not a run with a broken optimizer
            main(["train", str(run), flag, bad])
        assert "invalid" in capsys.readouterr().err


def test_an_export_can_carry_its_own_default_truncation(tmp_path, capsys):
    """`strata train RUN --export PTH --psi 0.9`: the model opens at psi 0.9 (the editor's start, evaluate's
    default set), and the pixels at a given psi are the run's own; a psi outside (0, 1] is refused."""
    from strata.app.cli import main

    run = tmp_path / "run"
    train(run, CFG, source=blobs, should_stop=iter([False, False, True]).__next__)
    assert main(["train", str(run), "--export", str(tmp_path / "a.pth")]) == 0
    assert main(["train", str(run), "--export", str(tmp_path / "b.pth"), "--psi", "0.9"]) == 0
    a = load_generator(tmp_path / "a.pth", "cpu").generator
    b = load_generator(tmp_path / "b.pth", "cpu").generator
    assert a.default_psi == 0.7 and b.default_psi == 0.9
    z = torch.randn(2, 16)
    with torch.inference_mode():
        assert torch.equal(a.synthesize(a.truncate(a.mapping(z), 0.5)), b.synthesize(b.truncate(b.mapping(z), 0.5)))
    capsys.readouterr()
    assert main(["train", str(run), "--export", str(tmp_path / "c.pth"), "--psi", "1.5"]) == 1
    assert "psi must be in (0, 1]" in capsys.readouterr().err and not (tmp_path / "c.pth").exists()
    with pytest.raises(SystemExit):
        main(["train", str(run), "--psi", "0.9"])  # --psi without --export: usage message
    assert "use it with --export" in capsys.readouterr().err
