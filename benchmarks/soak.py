"""Soak: 10,000 random requests through the render thread and the editor's history, invalid ones mixed in.

    python benchmarks/soak.py [--requests 10000] [--seed 0] [--device cpu] [--model PATH] [--json PATH]

The editor (``strata.app.editor.Editor``, no Qt) is driven as the window drives it: seeds,
truncation, each row's strength and layer range, resets, undo and redo, and in about one
request in five an invalid value (a seed of 1e400 or -1, psi 1e9 or NaN, a strength of
1e30, a layer range past the model, a row that does not exist). After every call that
changes the state, the present scene goes to a ``RenderWorker`` running a ``Renderer`` on its
own thread, stamped as ``app/engine_adapter.py`` stamps it; some requests are hostile
themselves (a missing model file, a code of the wrong shape). Results come back on the
render thread and are filtered as the adapter filters them (a stamp older than the one shown
is dropped); the editor takes each frame shown, as the window does. Every 50 requests the
script waits for the thread to go idle and checks that the frame shown is the newest request's.

Reports:

- crashes: an exception other than the refusal a caller expects (``StrataError`` or
  ``ValueError``/``TypeError`` for an invalid value), or an "internal error" result from the
  renderer; must be 0;
- stale frames shown: a frame shown after a newer one, or a rest at which the frame shown is
  not the newest request's; must be 0;
- memory growth: resident set size at the end less after the first 500 requests (target < 50 MB).

Prints a Markdown table with the machine it ran on; ``--json PATH`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import sys
import time
from pathlib import Path

import numpy as np
import torch

from strata.app.editor import Editor
from strata.assets import default_boundaries_path, default_model_path
from strata.engine.core.boundary import load_boundaries
from strata.engine.core.errors import StrataError
from strata.engine.core.render import Renderer, RenderRequest, RenderResult
from strata.engine.core.scene import Code
from strata.engine.core.worker import RenderWorker

REFUSALS = (StrataError, ValueError, TypeError)


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; elsewhere the peak from resource)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, AttributeError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


class Receiver:
    """The adapter's filter: newest stamp wins; results are handed to the main loop through a queue."""

    def __init__(self):
        self.shown = -1
        self.stale_shown = 0
        self.internal_errors: list[str] = []
        self.frames: queue.SimpleQueue[RenderResult] = queue.SimpleQueue()

    def __call__(self, result: RenderResult) -> None:  # on the render thread
        if result.error.startswith("internal error"):
            self.internal_errors.append(result.error.splitlines()[0])
        stamp = result.request.stamp
        if stamp <= self.shown:
            return  # dropped, as the adapter drops it
        self.shown = stamp
        self.frames.put(result)


def invalid_value(rng: np.random.RandomState, kind: str):
    return {
        "seed": [1e400, -1, 2**40, float("nan"), "7", None],
        "psi": [1e9, -5.0, float("nan"), float("inf"), "0.5"],
        "strength": [1e30, -1e30, float("nan"), float("inf"), "2"],
        "layers": [(5, 2), (0, 10**6), (-1, 3), (0,), "0-3", (1.5, 2)],
    }[kind][rng.randint(0, {"seed": 6, "psi": 5, "strength": 5, "layers": 6}[kind])]


def soak(n: int, seed: int, device: str, model_path: Path) -> dict:
    rng = np.random.RandomState(seed)
    boundaries, _ = load_boundaries(default_boundaries_path()) if model_path == default_model_path() else ([], [])
    editor = Editor(model_path, boundaries, merge_seconds=0.5)
    renderer = Renderer(device)
    receiver = Receiver()
    worker = RenderWorker(renderer, receiver, on_error=lambda req, msg: RenderResult(req, error=msg),
                          name="strata-soak")
    stamp = 0
    last_submitted = -1
    stats = {"requests": 0, "refused": 0, "crashes": 0, "stale_at_rest": 0, "rests": 0, "frames": 0,
             "render_errors": 0, "undo": 0, "redo": 0, "hostile_requests": 0}
    crash_lines: list[str] = []
    taken = [-1]  # the stamp of the last frame the editor took
    rss_start = None
    t0 = time.perf_counter()

    def submit(scene, path=None):
        nonlocal stamp, last_submitted
        stamp += 1
        last_submitted = stamp
        worker.submit(RenderRequest(stamp, str(path or editor.state.model_path), scene))

    def drain():
        while True:
            try:
                result = receiver.frames.get_nowait()
            except queue.Empty:
                return
            stats["frames"] += 1
            if not result.ok:
                stats["render_errors"] += 1
            if result.request.stamp <= taken[0]:
                receiver.stale_shown += 1  # shown after a newer frame
            taken[0] = result.request.stamp
            try:
                reaction = editor.take_result(result)
            except Exception as exc:  # noqa: BLE001 - the soak counts what escapes
                stats["crashes"] += 1
                crash_lines.append(f"take_result: {type(exc).__name__}: {exc}")
                continue
            if reaction.render:
                submit(editor.scene)

    submit(editor.scene)
    worker.wait_until_idle(120)
    drain()
    try:
        for i in range(n):
            stats["requests"] += 1
            rows = len(editor.scene.edits)
            invalid = rng.rand() < 0.2
            op = rng.choice(["seed", "psi", "strength", "layers", "undo", "redo", "reset", "hostile"],
                            p=[0.2, 0.15, 0.3, 0.15, 0.08, 0.06, 0.04, 0.02])
            try:
                changed = True
                if op == "seed":
                    changed = editor.set_seed(invalid_value(rng, "seed") if invalid else int(rng.randint(0, 2**31)))
                elif op == "psi":
                    changed = editor.set_psi(invalid_value(rng, "psi") if invalid else float(rng.uniform(0, 1.5)))
                elif op == "strength":
                    row = int(rng.randint(-1, rows + 1)) if invalid else int(rng.randint(0, max(rows, 1)))
                    value = invalid_value(rng, "strength") if invalid and rng.rand() < 0.7 else \
                        float(rng.uniform(-5, 5))
                    changed = editor.set_row(row, strength=value)
                elif op == "layers":
                    num = editor.num_layers
                    first = int(rng.randint(0, num))
                    layers = invalid_value(rng, "layers") if invalid else (first, int(rng.randint(first, num)))
                    changed = editor.set_row(int(rng.randint(0, max(rows, 1))), layers=layers)
                elif op == "undo":
                    changed = editor.undo()
                    stats["undo"] += changed
                elif op == "redo":
                    changed = editor.redo()
                    stats["redo"] += changed
                elif op == "reset":
                    changed = editor.reset_all() if rng.rand() < 0.3 else editor.reset_row(int(rng.randint(0, max(rows, 1))))
                else:  # requests the renderer must refuse in its result, never by raising
                    stats["hostile_requests"] += 1
                    if rng.rand() < 0.5:
                        submit(editor.scene, path=Path(model_path).with_name("no-such-model.pth"))
                    else:
                        bad = Code("wp", None, rng.randn(1, 3, 7).astype(np.float32))
                        submit(editor.scene.with_(code=bad))
                    changed = False
                if changed:
                    submit(editor.scene)
            except REFUSALS:
                stats["refused"] += 1
            except Exception as exc:  # noqa: BLE001 - the soak counts what escapes
                stats["crashes"] += 1
                crash_lines.append(f"{op}: {type(exc).__name__}: {exc}")
            drain()
            if (i + 1) % 50 == 0:
                worker.wait_until_idle(120)
                drain()
                stats["rests"] += 1
                # At rest the frame shown must answer the newest request (a refusal is an answer too).
                if receiver.shown != last_submitted:
                    stats["stale_at_rest"] += 1
            if i + 1 == min(500, n):
                rss_start = rss_mb()
        worker.wait_until_idle(120)
        drain()
    finally:
        worker.close()
    rss_end = rss_mb()
    stats.update(
        crashes=stats["crashes"] + len(receiver.internal_errors),
        stale_frames_shown=receiver.stale_shown + stats["stale_at_rest"],
        renders=worker.renders, submitted=worker.submitted,
        rss_after_warmup_mb=round(rss_start or rss_end, 1), rss_end_mb=round(rss_end, 1),
        rss_growth_mb=round(rss_end - (rss_start or rss_end), 1),
        seconds=round(time.perf_counter() - t0, 1),
        crash_examples=(crash_lines + receiver.internal_errors)[:5],
        history_depth=len(editor.history.timeline()[0]),
    )
    return stats


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}, {platform.system()}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", type=Path, default=None, help="generator file (default: the bundled model)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    model = args.model or default_model_path()
    s = soak(args.requests, args.seed, args.device, model)
    print(f"Machine: {machine()}\n")
    print(f"Model: {model.name}, device {args.device}; {s['requests']:,} requests, seed {args.seed}\n")
    print("| figure | value | target |\n|---|---|---|")
    rows = [("crashes", s["crashes"], "0"), ("stale frames shown", s["stale_frames_shown"], "0"),
            ("memory growth (RSS, after 500 requests to the end)", f"{s['rss_growth_mb']:+.1f} MB", "< 50 MB"),
            ("RSS after warm-up / at the end", f"{s['rss_after_warmup_mb']:.0f} / {s['rss_end_mb']:.0f} MB", ""),
            ("invalid inputs refused", f"{s['refused']:,}", ""),
            ("hostile render requests (answered with an error)", f"{s['hostile_requests']:,}", ""),
            ("renders / requests submitted (the rest replaced while pending)", f"{s['renders']:,} / {s['submitted']:,}", ""),
            ("frames the editor took / of them errors", f"{s['frames']:,} / {s['render_errors']:,}", ""),
            ("undo / redo steps taken", f"{s['undo']:,} / {s['redo']:,}", ""),
            ("rests checked (frame shown = newest request)", f"{s['rests']:,}", ""),
            ("wall time", f"{s['seconds']:.0f} s", "")]
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    if s["crash_examples"]:
        print("\nCrashes:\n" + "\n".join(f"- {c}" for c in s["crash_examples"]))
    if args.json:
        args.json.write_text(json.dumps(dict(s, machine=machine()), indent=1))
    ok = s["crashes"] == 0 and s["stale_frames_shown"] == 0 and s["rss_growth_mb"] < 50
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
