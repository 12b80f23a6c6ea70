"""Frame times of the editor's render path, as ratios to a full float32 frame measured in the same run.

    python benchmarks/bench_render.py [--rounds 7] [--threads N] [--device cpu] [--json PATH]
                                      [--model PATH] [--no-higan256] [--drag]

On the bundled model and on random weights in the architecture of HiGAN's
256 px StyleGAN bedroom model (14 layers, 512-d), each measure once per
round, the rounds interleaved, medians reported:

- full frame: a new seed (mapping, truncation, edits, synthesis of every
  layer), float32: the baseline of its model;
- edit on the last two layers, and on the attribute layers (6-11 of 14; the
  same share of a model's layers elsewhere): a slider move of such a row,
  the scene otherwise unchanged (incremental synthesis);
- strip of seven: the preview strip of the attribute row after its strength
  changed (its own renderer, as in the window);
- fast path: a full frame at the fast precision (bfloat16 where the CPU
  has it: a StyleGAN v1 model's synthesis prepared once in bfloat16, other
  architectures under autocast), and its fidelity: PSNR of fast against
  exact frames;
- the achieved GFLOP/s of a full synthesis (convolution and matmul FLOPs
  counted by torch) against a matrix multiply peak measured in the same run;
- with ``--drag``: a row on the attribute layers dragged at 60 Hz through
  the render thread for 2 s, exact and fast: frames shown per second.

Prints Markdown tables with the machine it ran on; ``--json PATH`` writes
the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.render import Renderer, RenderRequest, fast_dtype
from strata.engine.core.scene import Code, Scene
from strata.engine.core.strip import DEFAULT_STRENGTHS, render_strip
from strata.engine.core.worker import RenderWorker


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except (OSError, subprocess.SubprocessError):
        name = platform.processor()
    return (f"{platform.machine()} {name}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n x n matrix multiply (best of ``reps``)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def synthesis_flops(g, wp) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        g.synthesize(wp)
    return counter.get_total_flops()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def layers_like(num_layers: int, first: int, last: int, of: int = 14) -> tuple[int, int]:
    """The range ``first..last`` of a 14-layer model, as the same share of ``num_layers``."""
    if num_layers == of:
        return first, last
    return round(first * num_layers / of), min(num_layers - 1, round(last * num_layers / of))


def bench_model(path: str, label: str, *, rounds: int, device: str, psnr_seeds: int, drag: bool,
                peaks: list[float]) -> dict:
    r = Renderer(device)
    g = r.load(path).generator
    L = g.num_layers
    rng = np.random.RandomState(0)
    attr = layers_like(L, 6, 11)
    last2 = (L - 2, L - 1)
    rows = (Edit(Boundary("attr", rng.randn(g.w_dim)), 0.5, attr),
            Edit(Boundary("last2", rng.randn(g.w_dim)), 0.5, last2),
            Edit(Boundary("other", rng.randn(g.w_dim)), 0.3, (0, L - 1)))
    scene = Scene(code=Code.from_seed(0), psi=0.7, edits=rows)
    strip_r = Renderer(device)  # the window's strip renderer: its own activations, the same weights
    seeds = iter(range(1, 1_000_000))
    strengths = iter(np.tile(np.linspace(-3, 3, 101), 10_000))
    times: dict[str, list[float]] = {k: [] for k in ("full", "last2", "attr", "strip", "fast", "synth")}
    cur = {"scene": scene}

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    def slider(row):
        s = cur["scene"]
        r.render_scene(s)  # the code on screen, cached (not timed)
        cur["scene"] = s.with_edit(row, strength=float(next(strengths)))
        return timed(lambda: r.render_scene(cur["scene"]))

    def strip():
        s = cur["scene"]
        render_strip(strip_r, s, 0, DEFAULT_STRENGTHS, path)  # the strip on screen (not timed)
        cur["scene"] = s.with_edit(0, strength=float(next(strengths)))
        return timed(lambda: render_strip(strip_r, cur["scene"], 0, DEFAULT_STRENGTHS, path))

    def new_seed(precision):
        cur["scene"] = cur["scene"].with_(code=Code.from_seed(next(seeds)))
        return timed(lambda: r.render_scene(cur["scene"], precision=precision))

    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(1, g.z_dim, device=r.device)), 0.7)
    r.render_scene(scene)
    r.render_scene(scene, precision="fast")
    render_strip(strip_r, scene, 0, DEFAULT_STRENGTHS, path)

    def synth():
        with torch.inference_mode():
            return timed(lambda: g.synthesize(wp))

    measures = {"full": lambda: new_seed("exact"), "last2": lambda: slider(1), "attr": lambda: slider(0),
                "strip": strip, "fast": lambda: new_seed("fast"), "synth": synth}
    ratios: dict[str, list[float]] = {k: [] for k in measures}
    for _ in range(rounds):
        t = {k: fn() for k, fn in measures.items()}
        for k, v in t.items():
            times[k].append(v)
            ratios[k].append(v / t["full"])
        peaks.append(matmul_peak(torch.float32, reps=3))  # under the same load as the frames
    flops = synthesis_flops(g, wp)
    synth_s = statistics.median(times["synth"])
    full_s = statistics.median(times["full"])

    # Fidelity of the fast path: fast against exact frames of the same scenes.
    fast_name = r.render_scene(scene, precision="fast") and r.last_precision
    psnrs = []
    for seed in range(psnr_seeds):
        s = scene.with_(code=Code.from_seed(10_000 + seed))
        exact, _ = r.render_scene(s)
        fast, _ = r.render_scene(s, precision="fast")
        psnrs.append(psnr(fast, exact))

    out = {
        "model": label, "path": str(path), "resolution": g.resolution, "num_layers": L,
        "layers": {"last2": list(last2), "attr": list(attr)},
        "median_ms": {k: statistics.median(v) * 1000 for k, v in times.items()},
        "ratio_to_full": {k: statistics.median(v) for k, v in ratios.items()},
        "synthesis_gflop": flops / 1e9, "synthesis_gflops_per_s": flops / synth_s / 1e9,
        "full_frame_gflops_per_s": flops / full_s / 1e9,
        "fast_precision": fast_name,
        "fast_psnr_db": {"seeds": psnr_seeds, "mean": float(np.mean(psnrs)), "min": float(np.min(psnrs))},
    }
    if drag:
        out["drag_fps"] = {f"{row} {p}": drag_fps(path, scene, device, p, i)
                           for i, row in ((0, "attribute"), (1, "last two")) for p in ("exact", "fast")}
    return out


def drag_fps(path: str, scene: Scene, device: str, precision: str, row: int = 0, seconds: float = 2.0) -> float:
    """Frames rendered per second while ``row`` is dragged at 60 Hz through the render thread."""
    r = Renderer(device)
    r.render_scene(scene, path, precision=precision)
    shown = []
    worker = RenderWorker(r, shown.append)
    n = int(60 * seconds)
    t0 = time.perf_counter()
    for i in range(n):
        worker.submit(RenderRequest(i, path, scene.with_edit(row, strength=float(-3 + 6 * i / n)), precision))
        time.sleep(max(0.0, t0 + (i + 1) / 60 - time.perf_counter()))
    worker.wait_until_idle(120)
    worker.close()
    return len(shown) / (time.perf_counter() - t0)


def main(argv=None) -> None:
    from strata import assets

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(assets.default_model_path()))
    p.add_argument("--no-higan256", action="store_true", help="skip the 256 px model")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--psnr-seeds", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--drag", action="store_true", help="also drag a row at 60 Hz (exact and fast)")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = [matmul_peak(torch.float32, reps=10)]
    peak16 = matmul_peak(torch.bfloat16, reps=10)
    models = [(args.model, Path(args.model).name)]
    if not args.no_higan256:
        from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator

        torch.manual_seed(0)
        path = str(Path(tempfile.mkdtemp()) / "bedroom256_random.pth")
        torch.save(StyleGANGenerator(StyleGANConfig.simple(256)).state_dict(), path)
        models.append((path, "HiGAN 256 px StyleGAN, random weights"))
    results = [bench_model(m, label, rounds=args.rounds, device=args.device, psnr_seeds=args.psnr_seeds,
                           drag=args.drag, peaks=peaks) for m, label in models]
    peaks.append(matmul_peak(torch.float32, reps=10))
    report = {"machine": machine(), "device": args.device,
              "fast_dtype": str(fast_dtype(torch.device(args.device))),
              "matmul_gflops": {"float32": max(peaks), "bfloat16": peak16},
              "models": results}

    print(f"machine: {report['machine']}, device {args.device}")
    print(f"matrix multiply peak (2048^2, best of every round): float32 "
          f"{report['matmul_gflops']['float32']:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s\n")
    names = [("full", "full frame, float32 (baseline)"), ("last2", "edit on the last two layers"),
             ("attr", "edit on the attribute layers"), ("strip", "strip of seven"),
             ("fast", "full frame, fast precision"), ("synth", "synthesis alone, float32")]
    for res in results:
        a, l2 = res["layers"]["attr"], res["layers"]["last2"]
        print(f"model: {res['model']} ({res['resolution']} px, {res['num_layers']} layers; attribute layers "
              f"{a[0]}-{a[1]}, last two {l2[0]}-{l2[1]})\n")
        print("| measure | median ms | ratio to a full frame |")
        print("|---|---:|---:|")
        for k, name in names:
            print(f"| {name} | {res['median_ms'][k]:.1f} | {res['ratio_to_full'][k]:.2f} |")
        peak = report["matmul_gflops"]["float32"]
        print(f"\nsynthesis: {res['synthesis_gflop']:.2f} GFLOP (convolutions and matmuls); a full frame "
              f"{res['full_frame_gflops_per_s']:.0f} GFLOP/s = {res['full_frame_gflops_per_s'] / peak:.0%}, "
              f"synthesis alone {res['synthesis_gflops_per_s']:.0f} GFLOP/s = "
              f"{res['synthesis_gflops_per_s'] / peak:.0%} of the float32 matrix multiply peak")
        ps = res["fast_psnr_db"]
        print(f"fast path ({res['fast_precision']}): PSNR against exact over {ps['seeds']} seeds: "
              f"mean {ps['mean']:.1f} dB, min {ps['min']:.1f} dB")
        if "drag_fps" in res:
            print("60 Hz drag, frames shown per second: " +
                  ", ".join(f"{k} {v:.1f}" for k, v in res["drag_fps"].items()))
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
