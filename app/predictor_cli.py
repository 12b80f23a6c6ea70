"""``strata predictor train|eval``: train the rooms predictor, or measure one on held-out rooms.

Both wrap :mod:`strata.engine.rooms.predictor`. Training prints a line every
2% of its steps (it is usually left running in a log), then the held-out
table; ``eval`` prints the table alone, as Markdown.
"""

from __future__ import annotations

import argparse


def _parser() -> argparse.ArgumentParser:
    from strata.engine.rooms.predictor import EVAL_SEED, default_predictor_path

    p = argparse.ArgumentParser(prog="strata predictor",
                                description="Train or measure the rooms predictor (the 'rooms' predictor of "
                                            "`strata analyze` and `strata evaluate`).")
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train the rooms predictor on freshly rendered rooms")
    tr.add_argument("--out", default=str(default_predictor_path()),
                    help="predictor file to write (default: the bundled one)")
    tr.add_argument("--steps", type=int, default=3000)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--lr", type=float, default=3e-3)
    tr.add_argument("--threads", type=int, default=1)
    tr.add_argument("--eval-n", type=int, default=1000,
                    help="held-out rooms for the evaluation stored in the file (default 1000)")
    ev = sub.add_parser("eval", help="accuracy / R^2 on held-out rooms, as Markdown")
    ev.add_argument("--path", default=None, help="predictor file (default: the bundled one)")
    ev.add_argument("-n", type=int, default=2000)
    ev.add_argument("--seed", type=int, default=EVAL_SEED)
    ev.add_argument("--resolution", type=int, default=64)
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from strata.engine.rooms.predictor import (evaluate_predictor, load_rooms_predictor, report_markdown,
                                               train_rooms_predictor)

    if args.command == "eval":
        predictor = load_rooms_predictor(args.path)
        print(report_markdown(evaluate_predictor(predictor, n=args.n, seed=args.seed, resolution=args.resolution)))
        return 0
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            print(f"{100 * fraction:5.1f}%  {message}", flush=True)

    info = train_rooms_predictor(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                 lr=args.lr, threads=args.threads, eval_n=args.eval_n, progress=progress)
    print(f"saved {args.out} after {info['steps']} steps, {info['seconds']:.0f} s")
    print(report_markdown(info["evaluation"]))
    return 0
