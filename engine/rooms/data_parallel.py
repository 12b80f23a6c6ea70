"""Data-parallel training on one machine: N processes, gradients averaged over gloo.

Why: on a small CPU one training process keeps only about 1.3 cores busy
(most of a 64 px StyleGAN's operations are too small to split over threads),
while two single-threaded processes with half the batch each keep both busy
(benchmarks/bench_train.py). Every process holds the full model; after each
backward pass the gradients are averaged, so all copies take the same Adam
step and stay identical, as with one process and the whole batch.

Only torch.distributed's gloo backend over 127.0.0.1 is used; nothing leaves
the machine.
"""

from __future__ import annotations

import datetime
import socket
import time
from typing import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Group", "free_port", "join_group", "leave_group"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes (world 1: no group, every call is a no-op)."""

    rank: int = 0
    world: int = 1

    def average_grads(self, params) -> None:
        """Average the gradients of ``params`` over the processes, in one flat all-reduce."""
        if self.world == 1:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def average_(self, t: torch.Tensor) -> None:
        """Average a tensor in place over the processes (e.g. the running ``w_avg``)."""
        if self.world > 1:
            dist.all_reduce(t)
            t /= self.world

    def check_same(self, params) -> None:
        """Raise when the processes' copies of the model have drifted apart (they must take identical steps)."""
        if self.world == 1:
            return
        total = torch.stack([p.detach().double().sum() for p in params]).sum().reshape(1)
        lo, hi = total.clone(), total.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if lo.item() != hi.item():
            raise RuntimeError(f"training workers drifted apart (parameter sums {lo.item()!r} to {hi.item()!r})")

    def agree(self, flag: bool) -> bool:
        """True on every process when it is true on any: all stop at the same step, or none waits forever."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


def join_group(rank: int, world: int, port: int, *, timeout_s: float = 300.0,
               peers_alive: Callable[[], bool] | None = None) -> Group:
    """Connect to the other processes; rank 0 listens on ``port``.

    Rank 0 waits for every peer to check in, and gives up at once when
    ``peers_alive`` says one has died (a peer that fails at start-up must not
    leave it waiting for minutes). After that, a dead peer makes the next
    collective call fail, within ``timeout_s`` at most.
    """
    if world == 1:
        return Group()
    timeout = datetime.timedelta(seconds=timeout_s)
    store = dist.TCPStore("127.0.0.1", port, world, is_master=rank == 0, timeout=timeout, wait_for_workers=False)
    if rank:
        store.set(f"ready{rank}", "1")
    else:
        deadline = time.monotonic() + timeout_s
        waiting = [f"ready{r}" for r in range(1, world)]
        while not store.check(waiting):
            if peers_alive is not None and not peers_alive():
                raise RuntimeError("a training worker exited before it started; see its error above")
            if time.monotonic() > deadline:
                raise TimeoutError(f"training workers did not start within {timeout_s:.0f} s")
            time.sleep(0.05)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=timeout)
    return Group(rank, world)


def leave_group(group: Group) -> None:
    if group.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
