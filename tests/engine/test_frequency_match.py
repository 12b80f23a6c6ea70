"""Frequency matching (`strata train --match-frequencies`): the generator's rate of each binary
semantic is pulled toward the real images' rate, through a frozen predictor; a run saves and resumes
its running rates and logs the gap; the CLI takes a registered name or a predictor file."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from strata.engine.rooms.frequency_match import FrequencyMatch
from strata.engine.rooms.predictor import load_rooms_predictor
from strata.engine.rooms.render import sample_rooms
from strata.engine.rooms.train import TrainConfig, train

from .test_train_eval import CFG, blobs


def test_a_rate_that_is_too_low_rises_to_the_worlds():
    pred = load_rooms_predictor()
    before = {k: v.clone() for k, v in pred.state_dict().items()}
    world, _ = sample_rooms(512, 11)
    m = FrequencyMatch.from_images(pred, world)
    bed = m.names.index("bed")
    # A "generator" that draws beds in a fifth of its rooms: 48 rooms, 10 of them with a bed,
    # whose pixels are what it learns (slowly, as a GAN's generator moves).
    rooms, truth = sample_rooms(400, 12)
    with_bed, without = rooms[truth["bed"] > 0.5], rooms[truth["bed"] < 0.5]
    pixels = torch.cat([with_bed[:10], without[:38]]).clone().requires_grad_(True)
    start = m.rates(pixels.detach())
    assert start[bed] < m.target[bed] - 0.25
    opt = torch.optim.Adam([pixels], lr=0.001)
    for _ in range(60):
        loss = m.loss(pixels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    end = m.rates(pixels.detach())
    assert abs(end[bed] - m.target[bed]) < 0.1  # pulled up to the world's rate, not far past it
    # Every rate moves toward its own target (this pick of rooms is off in others too).
    assert (end - m.target).abs().max() < (start - m.target).abs().max() - 0.1
    assert m.gap() == pytest.approx(float((m.running - m.target).abs().max()))
    assert all(torch.equal(v, pred.state_dict()[k]) for k, v in before.items())  # the predictor is frozen


def test_a_batch_that_strays_from_rates_already_matched_is_not_pushed():
    # Only the running rates set the direction: one batch's noise around them does not push
    # (a squared batch mean would, and would reward half-drawn objects).
    pred = load_rooms_predictor()
    rooms, _ = sample_rooms(64, 13)
    m = FrequencyMatch.from_images(pred, rooms)
    m.running = m.target.clone()
    m.momentum = 1.0  # keep them there for this batch
    batch = rooms[:8].clone().requires_grad_(True)
    m.loss(batch).backward()
    assert batch.grad.abs().max() == 0
    with pytest.raises(ValueError, match="rates"):
        FrequencyMatch(pred, torch.zeros(3))


@pytest.fixture
def few_target_images(monkeypatch):
    """The target read from 256 real images, not 2048: these tests check the plumbing, fast."""
    import strata.engine.rooms.train
    monkeypatch.setattr(strata.engine.rooms.train, "MATCH_TARGET_IMAGES", 256)


def test_a_run_logs_the_gap_and_resumes_its_running_rates(tmp_path, few_target_images):
    cfg = replace(CFG, match_frequencies="rooms")
    run = tmp_path / "run"
    train(run, cfg, source=blobs, should_stop=iter([False, False, True]).__next__)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    saved = ck["match_running"]
    assert saved.shape == (9,) and ((saved >= 0) & (saved <= 1)).all()
    # Resumed and stopped before a step: the rates come back as saved (a fresh start would have none).
    train(run, cfg, source=blobs, should_stop=lambda: True)
    assert torch.equal(torch.load(run / "checkpoint.pt", weights_only=True)["match_running"], saved)
    train(run, replace(cfg, total_kimg=0.096), source=blobs)
    ck2 = torch.load(run / "checkpoint.pt", weights_only=True)
    assert not torch.equal(ck2["match_running"], saved)
    logged = [e["freq_gap"] for e in ck2["log"]]
    assert logged and all(0 <= g <= 1 for g in logged)
    with pytest.raises(ValueError, match="match_weight"):
        TrainConfig(match_weight=0.0)


def test_strata_train_takes_a_predictor_file_and_turns_matching_off(tmp_path, capsys, monkeypatch,
                                                                   few_target_images):
    from strata.app.cli import main

    run = tmp_path / "run"
    small = replace(CFG, resolution=32, channels=(16, 16, 8, 8), d_channels=(16, 16, 8, 8))
    train(run, small, should_stop=iter([False, True]).__next__)
    # A predictor file given by a relative path is kept by its absolute one.
    pth = tmp_path / "other_predictor.pth"
    load_rooms_predictor().save(pth)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(run), "--kimg", "0.016", "--match-frequencies", "other_predictor.pth",
                 "--match-weight", "5", "--threads", "1"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["match_frequencies"] == str(pth.resolve()) and saved["match_weight"] == 5
    assert "match_running" in torch.load(run / "checkpoint.pt", weights_only=True)

    assert main(["train", str(run), "--kimg", "0.024", "--match-frequencies", "none", "--threads", "1"]) == 0
    assert json.loads((run / "config.json").read_text())["match_frequencies"] == ""
    assert "match_running" not in torch.load(run / "checkpoint.pt", weights_only=True)
    capsys.readouterr()

    for bad, said in (("places", "neither a registered predictor"), ("missing.pth", "missing.pth")):
        with pytest.raises(SystemExit):
            main(["train", str(run), "--match-frequencies", bad])
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(run), "--match-weight", "-2"])
    assert "invalid" in capsys.readouterr().err
