"""``strata analyze``: find the semantic hierarchy of a generator (tqdm around strata.engine.discovery).

Resumable: re-running the same command continues from what is on disk.
Ctrl+C stops after the current batch and keeps the work done; a second
Ctrl+C aborts at once. See ``docs/analysis.md``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import sys
from pathlib import Path

DEFAULT_N = 10000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="strata analyze",
        description="Sample and annotate scenes, fit a boundary per semantic, rescore it layer by "
                    "layer and write a boundary library with its hierarchy report (HiGAN). "
                    "Re-run the same command to resume.")
    p.add_argument("--model", help="generator file (default: the bundled model)")
    p.add_argument("--predictor", default="rooms",
                   help="registered predictor or predictor file (.pth) (default: rooms)")
    p.add_argument("-n", "--num", type=int, default=None,
                   help=f"samples to annotate (default: what OUT/annotations.npz holds, else {DEFAULT_N})")
    p.add_argument("-m", "--rescore", type=int, default=500, help="samples for rescoring (default 500)")
    p.add_argument("--lam", type=float, default=2.0, help="rescoring step along each boundary (default 2)")
    p.add_argument("--top", default="0.02",
                   help="positives and negatives per semantic: a count (200) or a fraction (0.02, default)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--psi", type=float, default=None, help="truncation psi (default: the model's)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--condition", action="append", default=[], metavar="PRIMAL=C1[,C2]",
                   help="also fit PRIMAL orthogonal to one or two other semantics (repeatable)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("-o", "--out", required=True, help="output folder (annotations, boundaries/, report)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--shard", metavar="I/N",
                      help="annotate only slice I of N (0-based) into OUT/annotations.shard-I-of-N.npz")
    mode.add_argument("--merge", action="store_true",
                      help="join the shard files in OUT into OUT/annotations.npz, then continue")
    p.add_argument("--annotate-only", action="store_true", help="stop after the annotations")
    return p


def _parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 0 <= int(m[1]) < int(m[2]):
        raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 3/100")
    return int(m[1]), int(m[2])


def _parse_top(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--top {text!r}: expected a count (200) or a fraction (0.02)") from None
    if 0 < value < 1:
        return value
    if value >= 1 and value.is_integer():
        return int(value)
    raise ValueError(f"--top {text!r}: expected a count >= 1 or a fraction in (0, 1)")


def _parse_conditions(items: list[str]) -> dict[str, list[str]]:
    out = {}
    for item in items:
        m = re.fullmatch(r"\s*([^=\s]+)\s*=\s*([^,\s]+)\s*(?:,\s*([^,\s]+)\s*)?", item)
        if not m:
            raise ValueError(f"--condition {item!r}: expected PRIMAL=C1 or PRIMAL=C1,C2")
        out[m[1]] = [c for c in (m[2], m[3]) if c]
    return out


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    shard = _parse_shard(args.shard) if args.shard else None
    top = _parse_top(args.top)
    conditions = _parse_conditions(args.condition)
    if args.num is not None and args.num < 1:
        raise ValueError(f"-n {args.num}: need at least 1 sample")
    from strata.engine.core import limits

    limits.check_seed(args.seed, ValueError, "--seed")
    if args.psi is not None:
        limits.check_psi(args.psi, ValueError, "--psi")
    if not 1 <= args.batch_size <= 4096 or not 1 <= args.rescore <= 10**7 or not 0 < args.lam <= limits.STRENGTH_MAX:
        raise ValueError(f"--batch-size must be 1-4096, -m 1-10,000,000, --lam in (0, {limits.STRENGTH_MAX:g}]")

    from tqdm import tqdm

    from strata.engine import discovery
    from strata.engine.core.device import resolve_device
    from strata.engine.core.errors import StrataError

    if args.model:
        model_path = Path(args.model)
    else:
        from strata.assets import default_model_path
        model_path = default_model_path()
    out = Path(args.out)
    command = "strata analyze " + " ".join(shlex.quote(a) for a in argv)

    stop = {"flag": False}

    def on_signal(signum, frame):
        if stop["flag"]:
            raise KeyboardInterrupt
        stop["flag"] = True
        print("\nstopping after this batch (Ctrl+C again to abort)...", file=sys.stderr)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # A log file (a Slurm job) gets a line every 30 s, not one per batch.
    bar = tqdm(total=1000, unit="‰", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}",
               file=sys.stderr, mininterval=0.2 if sys.stderr.isatty() else 30.0)

    def progress(frac: float, msg: str) -> None:
        bar.set_postfix_str(msg, refresh=False)
        bar.update(max(int(frac * 1000) - bar.n, 0))

    should_stop = lambda: stop["flag"]  # noqa: E731
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StrataError(f"cannot create {out}: {exc.strerror or exc}") from None
        ann_path = out / discovery.ANNOTATIONS_FILE
        n = args.num
        if shard is not None or (args.annotate_only and not args.merge):
            from strata.engine.core.models import load_generator

            device = resolve_device(args.device)
            model = load_generator(model_path, device)
            predictor = discovery.resolve_predictor(args.predictor, device)
            path = out / discovery.shard_file_name(*shard) if shard else ann_path
            ann = discovery.sample_and_annotate(
                model.generator, predictor, n or DEFAULT_N, seed=args.seed, psi=args.psi,
                batch_size=args.batch_size, out_path=path, shard=shard,
                model_fingerprint=model.fingerprint, device=device, progress=progress,
                should_stop=should_stop)
            bar.close()
            print(f"annotated samples {ann.start}-{ann.stop - 1} of {ann.meta['n_total']}: {path}")
            return 0
        if args.merge:
            shards = sorted(out.glob("annotations.shard-*-of-*.npz"))
            if not shards:
                raise StrataError(f"no annotations.shard-*-of-*.npz files in {out} to merge")
            merged = discovery.merge_annotations(shards, ann_path)
            print(f"merged {len(shards)} shards ({merged.count} samples): {ann_path}", file=sys.stderr)
            if args.annotate_only:
                bar.close()
                return 0
            n = None
        elif n is None and not ann_path.exists():
            n = DEFAULT_N
        summary = discovery.run_discovery(
            model_path, predictor=args.predictor, n=n, m=args.rescore, lam=args.lam, k=top,
            seed=args.seed, psi=args.psi, out_dir=out, batch_size=args.batch_size,
            device=args.device, conditions=conditions or None, command=command,
            progress=progress, should_stop=should_stop)
        bar.close()
    except discovery.Cancelled as exc:
        bar.close()
        print(f"strata analyze: {exc}", file=sys.stderr)
        return 130
    finally:
        bar.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    rows = summary["boundaries"]
    width = max([len(r["name"]) for r in rows] + [8])
    print(f"{'semantic':<{width}}  {'declared':<9} {'found':<9} layers  accuracy  dS(all)")
    for r in rows:
        layers = "-" if r["layers"] is None else f"{r['layers'][0]}-{r['layers'][1]}"
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        ds = "-" if r["dS_all"] is None else f"{r['dS_all']:.3f}"
        found = r["found_level"] or "-"
        print(f"{r['name']:<{width}}  {r['declared_level']:<9} {found:<9} {layers:<7} {acc:<9} {ds}"
              + (f"  ({r['note']})" if r["note"] else ""))
    s = summary["seconds"]
    rate = summary["images_per_second"]
    print(f"{summary['n']} samples, {summary['m']} for rescoring on {summary['device']}: "
          f"{s['total']:.1f} s" + (f" ({rate:.0f} images/s)" if rate > 0 else " (all reused)"))
    print(f"library: {summary['library']} (hierarchy.md, hierarchy.png)")
