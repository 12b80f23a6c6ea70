"""Training throughput (real images per second) by workers, batch and threads, as ratios to a baseline measured in the same run.

    python benchmarks/bench_train.py [--run runs/rooms64 [--run runs/rooms64s2 ...]] [--setups 1x16t2,2x16t1] [--rounds 2] [--steps 32]

A setup ``WxBtT`` is ``strata train --workers W --batch B --threads T``: W
processes (data-parallel), B images per step in all, T torch threads per
process. Each is timed through ``strata.engine.rooms.train.train`` itself (rendering the
rooms, D step, lazy R1, G step, weight average, gradient averaging), on a
fresh run folder, over ``--steps`` steps after 4 warm-up steps (start-up and
process spawning are not counted). Rounds interleave the setups, so that a busy
neighbour on a shared machine slows them alike; the first setup is the
baseline. Architecture from RUN/config.json when given (weights are random:
speed does not depend on them); with several ``--run`` (say a StyleGAN and a
StyleGAN2 run), every setup is timed for every run in each round and the
first run's first setup is the baseline. Prints a Markdown table with the
machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

from strata.engine.rooms.train import TrainConfig, train  # noqa: E402

WARMUP = 4


def parse_setup(text: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)t(\d+)", text.strip())
    if not m:
        raise SystemExit(f"setup {text!r}: expected WORKERSxBATCHtTHREADS, e.g. 2x16t1")
    return int(m[1]), int(m[2]), int(m[3])


def rate(base: TrainConfig, workers: int, batch: int, threads: int, steps: int) -> float:
    cfg = dataclasses.replace(base, batch_size=batch, total_kimg=(WARMUP + steps) * batch / 1000,
                              checkpoint_every=10**9, sample_every=10**9)
    marks = {}

    def progress(frac: float, msg: str) -> None:
        marks.setdefault(round(frac * cfg.total_kimg * 1000 / batch), time.perf_counter())

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as run:
        train(run, cfg, progress=progress, workers=workers, threads_per_worker=threads)
    return steps * batch / (marks[WARMUP + steps] - marks[WARMUP])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", default=None,
                    help="run folder whose config.json gives the architecture (repeatable)")
    ap.add_argument("--setups", default="1x16t2,2x16t1")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=32)
    args = ap.parse_args()
    bases = {"default": TrainConfig()}
    if args.run:
        bases = {run: TrainConfig.from_dict(json.loads((Path(run) / "config.json").read_text())) for run in args.run}
    setups = [parse_setup(s) for s in args.setups.split(",")]
    cases = [(run, s) for run in bases for s in setups]
    rates = {c: [] for c in cases}
    for _ in range(args.rounds):
        for run, s in cases:
            rates[(run, s)].append(rate(bases[run], *s, args.steps))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{args.steps} timed steps per round")
    print()
    run0, (w0, b0, t0) = cases[0]
    print(f"| run | architecture | channels | workers | batch | threads each | images/s (median of {args.rounds}) "
          f"| ratio to {run0} {w0}x{b0}t{t0} |")
    print("|---|---|---|---|---|---|---|---|")
    ref = statistics.median(rates[cases[0]])
    for run, s in cases:
        m = statistics.median(rates[(run, s)])
        cfg = bases[run]
        print(f"| {run} | {cfg.architecture} | {','.join(map(str, cfg.channels))} at {cfg.resolution} px "
              f"| {s[0]} | {s[1]} | {s[2]} | {m:.1f} | {m / ref:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
