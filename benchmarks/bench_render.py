"""Frame times of the editor's render path, as ratios to a baseline measured in the same run.

    python benchmarks/bench_render.py [--model PATH] [--frames 30] [--threads N]

Measures, on one model:
- full frame: mapping + truncation + edits + synthesis (a new seed);
- slider frame: the same scene with one strength changed (mapping cached);
- raw synthesis alone (the baseline: what a frame cannot go below);
- a 60 Hz slider drag through the render thread: how many of the requests
  render (latest wins) and how far behind the hand the shown frame is.
Prints a Markdown table with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from strata.engine.core.boundary import Boundary  # noqa: E402
from strata.engine.core.edits import Edit  # noqa: E402
from strata.engine.core.render import Renderer, RenderRequest  # noqa: E402
from strata.engine.core.scene import Code, Scene  # noqa: E402
from strata.engine.core.worker import RenderWorker  # noqa: E402


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    from strata import assets
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(assets.default_model_path()))
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--higan256", action="store_true",
                   help="random weights in the architecture of HiGAN's stylegan_bedroom256 (14 layers, 512-d)")
    args = p.parse_args()
    if args.higan256:
        import tempfile
        from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator
        args.model = str(Path(tempfile.mkdtemp()) / "bedroom256_random.pth")
        torch.save(StyleGANGenerator(StyleGANConfig.simple(256)).state_dict(), args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    r = Renderer(args.device)
    m = r.load(args.model)
    g = m.generator
    b = Boundary("bench", np.random.RandomState(0).randn(g.w_dim), layers=(0, g.num_layers - 1))
    scene = Scene(code=Code.from_seed(0), psi=0.7, edits=(Edit(b, 0.0, (0, g.num_layers - 1)),))
    r.render_scene(scene)  # warm up
    seeds = iter(range(1, 10_000))
    full = timed(lambda: r.render_scene(scene.with_(code=Code.from_seed(next(seeds)))), args.frames)
    strengths = iter(np.linspace(-5, 5, 10_000))
    slider = timed(lambda: r.render_scene(scene.with_edit(0, strength=float(next(strengths)))), args.frames)
    wp = g.truncate(g.mapping(torch.randn(1, g.z_dim, device=r.device)), 0.7)
    with torch.inference_mode():
        synth = timed(lambda: g.synthesize(wp), args.frames)

    # A slider dragged at 60 Hz for 2 seconds, through the render thread.
    shown = []
    worker = RenderWorker(r, shown.append)
    t0 = time.perf_counter()
    n_req = 120
    for i in range(n_req):
        worker.submit(RenderRequest(i, args.model, scene.with_edit(0, strength=float(-5 + 10 * i / n_req))))
        time.sleep(max(0.0, t0 + (i + 1) / 60 - time.perf_counter()))
    worker.wait_until_idle(60)
    worker.close()
    lag = time.perf_counter() - (t0 + n_req / 60)

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {r.device}")
    print(f"model: {Path(args.model).name} ({g.resolution} px, {g.num_layers} layers)\n")
    print("| measure | median ms | ratio to raw synthesis |")
    print("|---|---:|---:|")
    for name, v in [("raw synthesis (baseline)", synth), ("slider frame (mapping cached)", slider),
                    ("full frame (new seed)", full)]:
        print(f"| {name} | {v * 1000:.1f} | {v / synth:.2f} |")
    print(f"\n60 Hz drag: {n_req} requests, {len(shown)} rendered ({len(shown) / n_req:.0%}), "
          f"last shown = last requested: {shown[-1].request.stamp == n_req - 1}, "
          f"final frame {lag * 1000:.0f} ms after the hand stopped")


if __name__ == "__main__":
    main()
