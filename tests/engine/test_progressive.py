"""Progressive growing, as StyleGAN v1 was trained: the schedule, the generator at each level
of detail, real images blurred to match, and a run that grows to full resolution."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from strata.engine.core.models import load_generator
from strata.engine.rooms.train import TrainConfig, blur_to_lod, lod_at, train
from tests._models import tiny_generator

from tests.engine.test_train_eval import CFG, blobs


def test_the_schedule_holds_each_resolution_then_fades_in_the_next():
    cfg = TrainConfig(resolution=64, progressive_kimg=10, progressive_from=8)
    lods = [lod_at(cfg, k * 1000) for k in (0, 9, 10, 15, 20, 30, 35, 40, 55, 60, 100)]
    # 8 px (lod 3) for 10k, fade to 16 px over 10k, hold, ... full resolution from 60k on.
    assert lods == [3.0, 3.0, 3.0, 2.5, 2.0, 2.0, 1.5, 1.0, 0.5, 0.0, 0.0]
    assert lod_at(replace(cfg, progressive_kimg=0), 0) == 0.0  # off: full resolution from the start


def _render(g, wp, lod):
    g.synthesis.lod.fill_(lod)
    try:
        with torch.no_grad():
            return g.synthesize(wp)
    finally:
        g.synthesis.lod.zero_()


def test_the_generator_draws_at_the_level_of_detail_and_fades_between_levels():
    g = tiny_generator()  # 16 px: blocks at 4, 8, 16
    wp = g.truncate(g.mapping(torch.randn(3, 16)), 1.0)
    full, half, quarter = (_render(g, wp, lod) for lod in (0.0, 1.0, 2.0))
    assert full.shape == half.shape == quarter.shape == (3, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(full, g.synthesize(wp))  # lod 0 is the released files' path
    # lod 1: an 8 px image shown in 2x2 blocks; lod 2: a 4 px image in 4x4 blocks.
    for img, k in ((half, 2), (quarter, 4)):
        small = img[..., ::k, ::k]
        assert torch.equal(F.interpolate(small, scale_factor=k, mode="nearest"), img)
        assert small.std() > 0
    assert not torch.equal(half, F.interpolate(full[..., ::2, ::2], scale_factor=2, mode="nearest"))
    # Between two levels the image is the blend of both.
    torch.testing.assert_close(_render(g, wp, 0.25), torch.lerp(full, half, 0.25))


def test_real_images_are_blurred_to_the_same_level():
    x = torch.randn(2, 3, 16, 16)
    assert blur_to_lod(x, 0.0) is x
    b = blur_to_lod(x, 2.0)
    torch.testing.assert_close(b[..., ::4, ::4], F.avg_pool2d(x, 4))  # block means kept
    assert torch.equal(F.interpolate(b[..., ::4, ::4], scale_factor=4, mode="nearest"), b)
    torch.testing.assert_close(blur_to_lod(x, 1.5), torch.lerp(blur_to_lod(x, 1.0), blur_to_lod(x, 2.0), 0.5))


def test_a_progressive_run_grows_to_full_resolution_and_resumes(tmp_path):
    cfg = replace(CFG, total_kimg=0.096, progressive_kimg=0.016, progressive_from=4)  # 12 steps of 8
    run = tmp_path / "run"
    train(run, cfg, source=blobs, should_stop=iter([False] * 3 + [True]).__next__)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["G"]["synthesis.lod"].item() == pytest.approx(2.0)  # three steps in: still at 4 px
    summary = train(run, cfg, source=blobs, out_model=tmp_path / "g.pth")
    assert summary["finished"] and summary["nimg"] == 96
    m = load_generator(tmp_path / "g.pth", "cpu")
    assert m.generator.synthesis.lod.item() == 0.0  # the saved model draws at full resolution
    img = m.generator.synthesize(m.generator.truncate(m.generator.mapping(torch.randn(2, 16)), 1.0))
    assert not torch.equal(img, F.interpolate(img[..., ::2, ::2], scale_factor=2, mode="nearest"))
