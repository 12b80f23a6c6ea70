"""How well the rooms predictor reads held-out rooms: a Markdown table.

Usage::

    .venv/bin/python benchmarks/eval_predictor.py [--path FILE] [-n 2000] [--seed S] [--resolution 64]

Accuracy (threshold 0.5) for binary semantics and R^2 for continuous ones, on
``n`` rooms drawn from ``--seed`` (default: ``strata.engine.rooms.predictor.EVAL_SEED``,
a stream training never draws from). ``--resolution 128`` renders larger
rooms, which the predictor resizes to its 64x64 input.
"""

from __future__ import annotations

import argparse
import time

import torch


from strata.engine.rooms.predictor import EVAL_SEED, evaluate_predictor, load_rooms_predictor, report_markdown  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="predictor file (default: assets/rooms_predictor.pth)")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    predictor = load_rooms_predictor(args.path)
    start = time.perf_counter()
    result = evaluate_predictor(predictor, n=args.n, seed=args.seed, resolution=args.resolution)
    print(report_markdown(result))
    trained = getattr(predictor, "training_info", {})
    if trained:
        print(f"\nTrained {trained.get('steps')} steps x {trained.get('batch_size')} rooms "
              f"(seed {trained.get('seed')}, {trained.get('seconds')} s on {trained.get('threads')} thread(s)); "
              f"evaluated in {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
