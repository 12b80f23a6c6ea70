"""``strata evaluate``: the rooms generator's quality figures (tqdm around strata.engine.rooms.evaluate)."""

from __future__ import annotations

import argparse
import json
import math
import shlex
from pathlib import Path


def main(argv: list[str]) -> int:
    import torch
    from tqdm import tqdm

    from strata import assets
    from strata.engine.core.atomic import atomic_write_bytes
    from strata.engine.discovery.predictors import resolve_predictor
    from strata.engine.rooms.evaluate import evaluate_generator, report_markdown

    p = argparse.ArgumentParser(prog="strata evaluate", description=(
        "Compare a generator trained on the rooms world with rendered rooms: frequency of every "
        "binary semantic, KID in the predictor's feature space, and a grid of 16 samples."))
    p.add_argument("--model", "-m", default=str(assets.default_model_path()))
    p.add_argument("--predictor", default="rooms", help="registered predictor (default: rooms)")
    p.add_argument("--predictor-file", metavar="PTH", default=None, help=(
        "read the predictor from this file instead (e.g. a rooms predictor trained with another seed: "
        "an instrument apart from the one a model trained with --feature-d was pushed by)"))
    p.add_argument("-n", "--num", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--grid", default=None, help="write a 4x4 sample grid PNG here")
    p.add_argument("--json", default=None, help="write the figures as JSON here")
    p.add_argument("--markdown", default=None, help="write the Markdown report here")
    p.add_argument("--psi", type=float, action="append", default=None, metavar="PSI",
                   help="truncation to evaluate the generated sets at (repeat for several; "
                        "default: the model's own and 1)")
    args = p.parse_args(argv)
    if args.psi and not all(math.isfinite(x) for x in args.psi):
        p.error("--psi takes finite numbers")
    if args.threads:
        torch.set_num_threads(args.threads)
    # Read before the model loads and the bar starts, so that a bad predictor file is reported at once.
    predictor = resolve_predictor(args.predictor, args.device, path=args.predictor_file)
    bar = tqdm(total=1000, bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def progress(frac, msg):
        bar.n = int(frac * 1000)
        bar.set_postfix_str(msg, refresh=False)
        bar.refresh()

    r = evaluate_generator(args.model, predictor=predictor, n=args.num, seed=args.seed,
                           psis=tuple(args.psi) if args.psi else None,
                           batch_size=args.batch_size, device=args.device, grid_path=args.grid,
                           progress=progress)
    bar.close()
    if args.predictor_file:
        r["predictor"] = f"{r['predictor']} ({args.predictor_file})"
    md = report_markdown(r, "strata evaluate " + shlex.join(argv))
    print(md)
    if args.json:
        atomic_write_bytes(Path(args.json), json.dumps(r, indent=1).encode())
    if args.markdown:
        atomic_write_bytes(Path(args.markdown), md.encode())
    return 0
