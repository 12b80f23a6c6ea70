"""Synthesis time of every model format Strata opens, as ratios to a StyleGAN2 baseline measured in the same run.

    python benchmarks/bench_formats.py [--size fixture|256|both] [--rounds 2] [--frames 3] [--threads N]

Two sets of rows, each with its own baseline (the rosinality-layout
:class:`~strata.engine.core.stylegan2.StyleGAN2Generator`):

- ``fixture``: the test fixtures of each format, opened through
  :func:`strata.engine.core.models.load_generator`. They are 32 px toy models
  whose channels and W+ sizes differ from file to file, so their ratios show
  each format's fixed per-layer overhead at a tiny size, not a like-for-like
  comparison;
- ``256``: random weights in the real 256 px, 512-d architecture of each
  family, built from its config class (timing depends on shapes, not values).
  The StyleGAN2 row is the class that rosinality's checkpoints, HiGAN's
  genforce StyleGAN2 files and NVIDIA's TensorFlow StyleGAN2 pickles all read
  into; config-f channels (``min(32768 / res, 512)``).

Only synthesis is timed (``synthesize(wp)`` from a truncated W+, batch 1,
float32 on the CPU unless ``--device``, under ``torch.inference_mode()``),
after one warm-up call per model. Rounds interleave the models (each round
starts one model further on); a row's ms is the median of all its frames, its
ratio the median over rounds of (its median / the baseline's median in that
round). Prints a Markdown table with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

# (architecture, format(s), fixture file); the first is the baseline.
FIXTURE_ROWS = [
    ("StyleGAN2 (rosinality layout)", "rosinality .pt", "rosinality_stylegan2/stylegan2_rosinality_tiny32.pt"),
    ("StyleGAN (v1)", "HiGAN / genforce .pth", "genforce_stylegan/stylegan_tiny32.pth"),
    ("StyleGAN2 (rosinality layout)", "HiGAN / genforce .pth", "genforce_stylegan2/stylegan2_tiny32.pth"),
    ("NVIDIA StyleGAN2-ADA", "NVIDIA .pkl", "nvidia_pkl/stylegan2_ada_tiny32.pkl"),
    ("NVIDIA StyleGAN3-T", "NVIDIA .pkl", "nvidia_pkl/stylegan3t_tiny32.pkl"),
]


def _stylegan_256():
    from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator
    return StyleGANGenerator(StyleGANConfig.simple(256))  # HiGAN's bedroom 256 px: fmaps_base 16384, max 512


def _stylegan2_256():
    from strata.engine.core.stylegan2 import StyleGAN2Config, StyleGAN2Generator
    return StyleGAN2Generator(StyleGAN2Config(resolution=256, w_dim=512, channels=_channels(32768, 512, 256)))


def _nvidia_stylegan2_256(channel_base: int):
    # NVIDIA's 256 px StyleGAN2 configs: channel_base 16384 (stylegan2-ada-pytorch's paper256) or 32768
    # (the StyleGAN3 repository's --cfg=stylegan2), channel_max 512, conv_clamp 256. num_fp16_res=4 only
    # changes dtypes on a GPU; Strata computes every block in float32.
    from strata.engine.core.nvidia_stylegan2 import NvidiaStyleGAN2Config, NvidiaStyleGAN2Generator
    return NvidiaStyleGAN2Generator(NvidiaStyleGAN2Config(
        resolution=256, z_dim=512, w_dim=512, mapping_layers=8,
        channels=_channels(channel_base, 512, 256), conv_clamp=256.0))


def _stylegan3_256(kind: str):
    # The constructor arguments NVIDIA's train.py gives (cbase 32768, cmax 512; R: 1x1 convs, channel base and
    # max doubled, radial filters), read by the same function that reads them out of a pickle.
    from strata.engine.core.stylegan3 import StyleGAN3Generator, config_from_nvidia_kwargs
    kw = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
              mapping_kwargs=dict(num_layers=2), channel_base=32768, channel_max=512,
              num_fp16_res=4, conv_clamp=256, magnitude_ema_beta=0.5 ** (32 / 20e3))
    if kind == "r":
        kw.update(conv_kernel=1, channel_base=65536, channel_max=1024, use_radial_filters=True)
    return StyleGAN3Generator(config_from_nvidia_kwargs((), kw))


def _channels(base: int, cmax: int, resolution: int) -> tuple[int, ...]:
    res, out = 4, []
    while res <= resolution:
        out.append(min(base // res, cmax))
        res *= 2
    return tuple(out)


# (architecture, format(s) that read into it, builder); the first is the baseline.
ROWS_256: list[tuple[str, str, Callable]] = [
    ("StyleGAN2 (rosinality layout), config-f", "rosinality .pt, HiGAN / genforce .pth, TF .pkl", _stylegan2_256),
    ("StyleGAN (v1), HiGAN bedroom", "HiGAN / genforce .pth, TF .pkl", _stylegan_256),
    ("NVIDIA StyleGAN2-ADA, cbase 16384", "NVIDIA .pkl", lambda: _nvidia_stylegan2_256(16384)),
    ("NVIDIA StyleGAN2, cbase 32768", "NVIDIA .pkl", lambda: _nvidia_stylegan2_256(32768)),
    ("NVIDIA StyleGAN3-T", "NVIDIA .pkl", lambda: _stylegan3_256("t")),
    ("NVIDIA StyleGAN3-R", "NVIDIA .pkl", lambda: _stylegan3_256("r")),
]


@dataclass
class Case:
    group: str  # "fixture" or "256"
    arch: str
    formats: str
    g: torch.nn.Module
    wp: torch.Tensor
    rounds: list[list[float]] = field(default_factory=list)

    def run(self, frames: int) -> None:
        times = []
        with torch.inference_mode():
            for _ in range(frames):
                t = time.perf_counter()
                self.g.synthesize(self.wp)
                times.append(time.perf_counter() - t)
        self.rounds.append(times)


def _case(group: str, arch: str, formats: str, g: torch.nn.Module, device: str) -> Case:
    g = g.eval().requires_grad_(False).to(device)
    torch.manual_seed(0)
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(1, g.z_dim, device=device)), 0.7)
        g.synthesize(wp)  # warm up
    return Case(group, arch, formats, g, wp)


def build(size: str, device: str) -> list[Case]:
    from strata.engine.core.models import load_generator
    cases = []
    if size in ("fixture", "both"):
        for arch, formats, rel in FIXTURE_ROWS:
            m = load_generator(FIXTURES / rel, device)
            cases.append(_case("fixture", arch, f"{formats} (`{m.format}`, {Path(rel).name})", m.generator, device))
    if size in ("256", "both"):
        for arch, formats, make in ROWS_256:
            torch.manual_seed(0)
            cases.append(_case("256", arch, formats, make(), device))
    return cases


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=("fixture", "256", "both"), default="both")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--frames", type=int, default=3, help="timed frames per model per round")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = build(args.size, args.device)
    for r in range(args.rounds):
        k = r % len(cases)
        for c in cases[k:] + cases[:k]:
            c.run(args.frames)

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print(f"{args.rounds} rounds x {args.frames} frames per model, batch 1, float32, synthesis only\n")
    print("| architecture | format(s) | px | W+ entries | median ms | ratio to StyleGAN2 at the same px |")
    print("|---|---|---:|---:|---:|---:|")
    for group in ("fixture", "256"):
        rows = [c for c in cases if c.group == group]
        if not rows:
            continue
        base = rows[0]
        for c in rows:
            ms = statistics.median(t for rnd in c.rounds for t in rnd) * 1000
            ratio = statistics.median(statistics.median(a) / statistics.median(b)
                                      for a, b in zip(c.rounds, base.rounds))
            name = c.arch + (" (baseline)" if c is base else "")
            print(f"| {name} | {c.formats} | {c.g.resolution} | {c.g.num_layers} | {ms:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
