"""Data-parallel CPU training: N processes with a share of the batch each train as one with the whole batch."""

from __future__ import annotations

import multiprocessing as mp

import pytest
import torch

from strata.app.cli import main
from strata.engine.rooms.data_parallel import free_port, join_group, leave_group
from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator
from strata.engine.rooms.train import TrainConfig, train

G_CFG = StyleGANConfig(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, mapping_hidden=16,
                       channels=(16, 16, 8), fused=(False, False), truncation_layers=2)


def _g_loss(G: StyleGANGenerator, z: torch.Tensor) -> torch.Tensor:
    # A mean over the batch, like the training losses: the half-batch gradients must average to it.
    return G.synthesize(G.mapping(z).unsqueeze(1).repeat(1, G.num_layers, 1)).square().mean()


def _rank_grads(rank: int, world: int, port: int, z: torch.Tensor, out: str) -> None:
    torch.set_num_threads(1)
    group = join_group(rank, world, port, timeout_s=60)
    try:
        torch.manual_seed(0)
        G = StyleGANGenerator(G_CFG)
        share = z.shape[0] // world
        _g_loss(G, z[rank * share:(rank + 1) * share]).backward()
        group.average_grads(G.parameters())
        torch.save({n: p.grad for n, p in G.named_parameters()}, f"{out}/rank{rank}.pt")
    finally:
        leave_group(group)


def test_averaged_half_batch_gradients_equal_the_full_batch_gradient(tmp_path):
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(3))
    port = free_port()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_rank_grads, args=(r, 2, port, z, str(tmp_path))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    torch.manual_seed(0)
    G = StyleGANGenerator(G_CFG)
    _g_loss(G, z).backward()
    got = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    checked = 0
    for name, p in G.named_parameters():
        if p.grad is None:  # not on the path from z to the image (both ranks agree)
            assert got[0][name] is None and got[1][name] is None, name
            continue
        checked += 1
        assert torch.equal(got[0][name], got[1][name]), name  # both copies take the same step
        torch.testing.assert_close(got[0][name], p.grad, rtol=1e-4, atol=1e-7, msg=name)
    assert checked > 10


CFG = TrainConfig(resolution=32, z_dim=16, w_dim=16, mapping_layers=2, channels=(16, 16, 8, 8),
                  d_channels=(16, 16, 8, 8), batch_size=4, total_kimg=0.032, checkpoint_every=2,
                  sample_every=4, r1_every=2)


def test_two_workers_train_stop_and_resume_with_one(tmp_path):
    run = tmp_path / "run"
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] > 3

    # Rank 0 decides to stop; the peer must stop at the same step rather than wait for it forever.
    s1 = train(run, CFG, workers=2, should_stop=stop_after_three)
    assert not s1["finished"] and s1["steps"] == 3 and s1["nimg"] == 12
    # The workers' copies are compared at every checkpoint (steps 2, 4, 6, 8): drift would raise.
    s2 = train(run, CFG, workers=2)
    assert s2["finished"] and s2["steps"] == 8 and s2["nimg"] == 32
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 8 and all(torch.isfinite(v).all() for v in ck["G_ema"].values())
    # The same run goes on in one process, from the same checkpoint.
    s3 = train(run, TrainConfig(**{**CFG.__dict__, "total_kimg": 0.040}))
    assert s3["finished"] and s3["steps"] == 10 and s3["nimg"] == 40


def test_a_batch_that_does_not_split_over_the_workers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="batch size 4 does not split over 3 workers"):
        train(tmp_path / "run", CFG, workers=3)


def test_the_command_refuses_workers_that_do_not_split_the_batch(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path / "run"), "--resolution", "32", "--batch", "6", "--workers", "4"])
    assert exc.value.code == 2
    assert "--workers 4: the batch of 6 must split evenly over the workers" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing started


def test_a_damaged_checkpoint_is_one_message_before_any_worker_starts(tmp_path, capfd):
    run = tmp_path / "run"
    train(run, CFG, should_stop=iter([False, True]).__next__)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])  # cut short, as by a full disk
    assert main(["train", str(run), "--workers", "2", "--threads", "1"]) == 1
    err = capfd.readouterr().err
    assert f"{run / 'checkpoint.pt'}: not a readable training checkpoint" in err
    assert "Traceback" not in err  # no worker was spawned to fail on it
