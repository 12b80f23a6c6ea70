"""Summarise a discovery report by declared level (the table in docs/hierarchy.md).

    python benchmarks/hierarchy_by_level.py assets/boundaries/rooms64/hierarchy.json

"centre of dS" is the dS-weighted mean layer of a semantic's per-layer
profile; the level's value is the mean over its semantics.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

LEVELS = ("layout", "object", "attribute", "colour")


def centre(ds) -> float:
    d = np.asarray(ds, dtype=float)
    return float((d * np.arange(len(d))).sum() / max(d.sum(), 1e-12))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", help="hierarchy.json written by strata analyze")
    p.add_argument("--per-semantic", action="store_true", help="also print one line per semantic")
    args = p.parse_args()
    h = json.load(open(args.report))
    rows = [r for r in h["semantics"] if r.get("dS")]
    print("| declared level | semantics | found at that level | centre of dS (layer) | peak layer (mean) |")
    print("|---|---|---:|---:|---:|")
    for lv in LEVELS:
        rs = [r for r in rows if r["declared_level"] == lv]
        if not rs:
            continue
        found = sum(r["found_level"] == lv for r in rs)
        cs = [centre(r["dS"]) for r in rs]
        peaks = [int(np.argmax(r["dS"])) for r in rs]
        each = f" ({', '.join(f'{c:.1f}' for c in cs)})" if len(rs) <= 3 else ""
        print(f"| {lv} | {', '.join(r['name'] for r in rs)} | {found}/{len(rs)} | "
              f"{np.mean(cs):.1f}{each} | {np.mean(peaks):.1f} |")
    if args.per_semantic:
        print()
        for r in rows:
            print(f"{r['name']:18s} {r['declared_level']:9s} found {r['found_level']:9s} "
                  f"layers {r['layers']} peak {int(np.argmax(r['dS']))} centre {centre(r['dS']):.2f} "
                  f"acc {r['accuracy']:.3f} range_stab {r.get('range_stability')} "
                  f"level_stab {r.get('level_stability')}")


if __name__ == "__main__":
    main()
