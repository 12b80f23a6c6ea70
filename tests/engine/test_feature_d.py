"""The feature discriminator (`strata train --feature-d rooms`): a head on the rooms predictor's
frozen trunk that learns to tell images apart, trains beside the pixel discriminator without
touching the predictor, is saved with the run and resumed, and can be turned on and off on a run."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from strata.engine.rooms.feature_d import FeatureDiscriminator
from strata.engine.rooms.predictor import load_rooms_predictor
from strata.engine.rooms.render import sample_rooms
from strata.engine.rooms.train import TrainConfig, train

from .test_train_eval import CFG, blobs


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_the_head_learns_rooms_from_their_washed_out_copies_and_leaves_the_trunk_alone():
    pred = load_rooms_predictor()
    trunk_before = _state(pred)
    torch.manual_seed(0)
    fd = FeatureDiscriminator(pred)
    # Only the head is trained and saved: the predictor is shared with evaluation and must not move.
    assert all(k.startswith(("map_head.", "vec_head.")) for k in fd.state_dict())
    assert {id(p) for p in fd.parameters()}.isdisjoint(id(p) for p in pred.parameters())
    opt = torch.optim.Adam(fd.parameters(), lr=2e-3)
    # "Fake" rooms: the same world with its colours washed out toward grey, a difference the trunk sees.
    real, _ = sample_rooms(128, 100, resolution=64)
    fake = sample_rooms(128, 200, resolution=64)[0] * 0.5
    pick = torch.Generator().manual_seed(0)
    for step in range(40):
        i, j = torch.randint(0, 96, (16,), generator=pick), torch.randint(0, 96, (16,), generator=pick)
        loss = F.softplus(fd(fake[i])).mean() + F.softplus(-fd(real[j])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # rooms the head never saw
        accuracy = ((fd(real[96:]) > 0).float().mean() + (fd(fake[96:]) < 0).float().mean()) / 2
    assert accuracy > 0.9
    assert all(torch.equal(v, pred.state_dict()[k]) for k, v in trunk_before.items())

    # The generator learns through the frozen trunk: gradients reach every pixel, also outside [-1, 1].
    images = (fake[:4] * 3).requires_grad_(True)  # well outside the range predict() would clamp to
    fd(images).sum().backward()
    assert images.grad is not None and (images.grad.abs().sum(dim=(1, 2, 3)) > 0).all()


def test_other_sizes_are_read_as_the_predictor_reads_them():
    pred = load_rooms_predictor()
    fd = FeatureDiscriminator(pred)
    rooms, _ = sample_rooms(4, 7, resolution=128)
    small = F.adaptive_avg_pool2d(rooms, 64)
    with torch.no_grad():
        assert torch.allclose(fd(rooms), fd(small), atol=1e-5)  # 128 px averaged down, exactly
        assert fd(sample_rooms(4, 7, resolution=32)[0]).shape == (4,)  # 32 px scaled up


def test_a_run_with_a_feature_discriminator_saves_and_resumes_its_head(tmp_path):
    cfg = replace(CFG, feature_d="rooms")
    run = tmp_path / "run"
    pred_before = _state(load_rooms_predictor())
    s1 = train(run, cfg, source=blobs, should_stop=iter([False, False, True]).__next__)
    assert s1["steps"] == 2
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    head = ck["F_D"]
    assert set(head) and all(k.startswith(("map_head.", "vec_head.")) for k in head)
    assert json.loads((run / "config.json").read_text())["feature_d"] == "rooms"

    s2 = train(run, cfg, source=blobs)
    assert s2["finished"] and s2["steps"] == 6
    ck2 = torch.load(run / "checkpoint.pt", weights_only=True)
    # The resumed head went on from the saved one: Adam counted every step of the run.
    assert ck2["opt_F"]["state"][0]["step"] == 6
    assert all(not torch.equal(head[k], ck2["F_D"][k]) for k in head if head[k].is_floating_point())
    assert all("loss_F" in e and e["loss_F"] == e["loss_F"] for e in ck2["log"])  # logged, not NaN
    # The shipped predictor file is read, never written.
    assert all(torch.equal(v, load_rooms_predictor().state_dict()[k]) for k, v in pred_before.items())


def test_strata_train_turns_the_feature_discriminator_on_and_off_on_a_run(tmp_path, capsys):
    from strata.app.cli import main

    run = tmp_path / "run"
    small = replace(CFG, resolution=32, channels=(16, 16, 8, 8), d_channels=(16, 16, 8, 8))
    train(run, small, should_stop=iter([False, True]).__next__)  # a plain run of the rooms world
    assert "F_D" not in torch.load(run / "checkpoint.pt", weights_only=True)

    assert main(["train", str(run), "--kimg", "0.016", "--feature-d", "rooms", "--feature-d-weight", "0.5",
                 "--threads", "1"]) == 0
    saved = json.loads((run / "config.json").read_text())
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["feature_d"] == "rooms" and saved["feature_d_weight"] == 0.5 and "F_D" in ck
    assert ck["opt_F"]["state"][0]["step"] == 1  # a fresh head, from the step it was turned on

    assert main(["train", str(run), "--kimg", "0.024", "--feature-d", "none", "--threads", "1"]) == 0
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert json.loads((run / "config.json").read_text())["feature_d"] == "" and "F_D" not in ck
    capsys.readouterr()

    with pytest.raises(SystemExit):
        main(["train", str(run), "--feature-d", "places"])
    assert "no such predictor (registered: rooms" in capsys.readouterr().err
    for bad in ("0", "-1", "nan"):
        with pytest.raises(SystemExit):
            main(["train", str(run), "--feature-d-weight", bad])
        assert "invalid" in capsys.readouterr().err
