"""How fast the procedural rooms render: images per second at 64 and 128 px.

Usage::

    .venv/bin/python benchmarks/bench_rooms.py [--threads N] [--repeats R]

Renders a batch of 256 seeded rooms ``R`` times per resolution (after one
warm-up) and prints the best and the median rate, with the torch thread
count and the machine. The median is what to expect on a busy machine; the
best is what the code can do when nothing else competes for the cores. The
rate per CPU-second (process time) is the least sensitive to other work on
the machine; with one thread it is the one-core speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch


from strata.engine.rooms.render import render_rooms  # noqa: E402
from strata.engine.rooms.semantics import sample_params  # noqa: E402


def _cpu_name() -> str:
    name = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {_cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    params = sample_params(args.batch, torch.Generator().manual_seed(0))
    for resolution in (64, 128):
        render_rooms(params, resolution)  # warm-up
        rates, cpu_rates = [], []
        for _ in range(args.repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            render_rooms(params, resolution)
            rates.append(args.batch / (time.perf_counter() - start))
            cpu_rates.append(args.batch / (time.process_time() - cpu_start))
        print(f"{resolution}x{resolution}, batch {args.batch}: best {max(rates):6.0f} images/s, "
              f"median {statistics.median(rates):6.0f} images/s ({args.repeats} runs); "
              f"{statistics.median(cpu_rates):6.0f} images per CPU-second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
