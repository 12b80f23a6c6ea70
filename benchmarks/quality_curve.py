"""Tabulate `strata evaluate` results of snapshots taken during training.

Each snapshot is a pair: a generator exported from the run
(`strata train RUN --export kN.pth`) and its evaluation
(`strata evaluate -m kN.pth -n 2000 --threads 1 --json kN.json`).

    python benchmarks/quality_curve.py runs/snapshots/k96.pth runs/snapshots/k96.json ...

Prints the Markdown table of docs/generator_quality.md ("During training").
``--psi 0.7 --psi 1`` counts the gaps and lists the KID at those truncations
only (default: 0.7 and 1, the issue's targets for a model whose default is 0.7).
"""

from __future__ import annotations

import argparse
import json

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pairs", nargs="+", help="model.pth evaluation.json, repeated")
    p.add_argument("--psi", type=float, action="append", default=None,
                   help="truncations to count and list (repeat; default 0.7 and 1)")
    args = p.parse_args()
    if len(args.pairs) % 2:
        p.error("give the files in pairs: model.pth evaluation.json")
    psis = [f"{x:g}" for x in (args.psi or (0.7, 1.0))]
    print("| images seen | training time | largest frequency gap | semantics within 0.1 | "
          + " | ".join(f"KID ψ={x}" for x in psis) + " |")
    print("|---:|---:|---:|---:|" + "---:|" * len(psis))
    for pth, js in zip(args.pairs[::2], args.pairs[1::2]):
        meta = torch.load(pth, weights_only=True, map_location="cpu")["meta"]
        d = json.load(open(js))
        missing = [x for x in psis if x not in d["psi"]]
        if missing:
            p.error(f"{js} has no evaluation at psi {', '.join(missing)} (it has {', '.join(d['psi'])})")
        gaps = {n: max(abs(v[f"generated_psi_{x}"] - v["rendered"]) for x in psis)
                for n, v in d["frequencies"].items()}
        worst = max(gaps, key=gaps.get)
        print(f"| {meta['training_kimg']:.1f}k | {meta['training_seconds'] / 60:.0f} min | "
              f"{gaps[worst]:.3f} ({worst}) | {sum(g <= 0.1 for g in gaps.values())}/{len(gaps)} | "
              + " | ".join(f"{d['psi'][x]['kid'][0]:.3f}" for x in psis) + " |")


if __name__ == "__main__":
    main()
