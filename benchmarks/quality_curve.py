"""Tabulate `strata evaluate` results of snapshots taken during training.

Each snapshot is a pair: a generator exported from the run
(`strata train RUN --export kN.pth`) and its evaluation
(`strata evaluate -m kN.pth -n 2000 --threads 1 --json kN.json`).

    python benchmarks/quality_curve.py runs/snapshots/k96.pth runs/snapshots/k96.json ...

Prints the Markdown table of docs/generator_quality.md ("During training").
"""

from __future__ import annotations

import argparse
import json

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pairs", nargs="+", help="model.pth evaluation.json, repeated")
    args = p.parse_args()
    if len(args.pairs) % 2:
        p.error("give the files in pairs: model.pth evaluation.json")
    print("| images seen | training time | largest frequency gap | semantics within 0.1 | KID ψ=0.7 | KID ψ=1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for pth, js in zip(args.pairs[::2], args.pairs[1::2]):
        meta = torch.load(pth, weights_only=True, map_location="cpu")["meta"]
        d = json.load(open(js))
        gaps = {n: max(abs(v[k] - v["rendered"]) for k in v if k.startswith("generated"))
                for n, v in d["frequencies"].items()}
        worst = max(gaps, key=gaps.get)
        kid = {psi: v["kid"][0] for psi, v in d["psi"].items()}
        print(f"| {meta['training_kimg']:.1f}k | {meta['training_seconds'] / 60:.0f} min | "
              f"{gaps[worst]:.3f} ({worst}) | {sum(g <= 0.1 for g in gaps.values())}/{len(gaps)} | "
              f"{kid.get('0.7', float('nan')):.3f} | {kid.get('1', float('nan')):.3f} |")


if __name__ == "__main__":
    main()
