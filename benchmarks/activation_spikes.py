"""Droplet check: how many channels of each synthesis layer carry a local spike before instance norm.

    python benchmarks/activation_spikes.py [-m assets/rooms64_generator.pth ...] [-n 256] [--ratio 8]

StyleGAN (v1) normalizes every feature map by its own spatial statistics
(AdaIN's instance norm). Karras et al. (StyleGAN2, section 2) show that a
generator can then smuggle a signal past the normalization by putting one
strong, localized spike in a channel: the spike dominates the channel's
statistics, so the rest of the map is scaled down, and it shows in images as a
"droplet" blob. This measures that, layer by layer: for every sample and every
channel, the largest absolute activation at the instance norm's input divided
by the channel's spatial RMS there; a channel counts as spiking when that ratio
exceeds ``--ratio`` in more than half the samples. A smooth map has ratios of
2 to 4 (a Gaussian map of 64x64 values reaches about 4), so 8 singles out
isolated peaks. Samples are drawn at psi 1 with the file's fixed noise, as the
editor shows them. Prints a Markdown table with the machine.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def spike_ratios(generator, wp: torch.Tensor) -> dict[int, torch.Tensor]:
    """Per synthesis layer: ``[n, channels]`` max|x| / rms(x) at the input of the instance norm."""
    from strata.engine.core.stylegan import _Epilogue

    if getattr(generator, "architecture", None) != "stylegan":
        raise SystemExit(f"activation_spikes: only StyleGAN (v1) generators normalize per instance, "
                         f"not {getattr(generator, 'architecture', type(generator).__name__)}")
    epilogues = [(i, getattr(generator.synthesis, f"layer{i}").epilogue) for i in range(generator.num_layers)]
    out: dict[int, torch.Tensor] = {}
    handles = []
    for i, ep in epilogues:
        if not isinstance(ep, _Epilogue):
            raise SystemExit("activation_spikes: a synthesis layer without StyleGAN's epilogue")

        def hook(module, args, *, i=i):
            # Recompute the epilogue's first steps: noise, bias, leaky ReLU (what the norm sees).
            x = module.apply_noise(args[0])
            x = torch.nn.functional.leaky_relu(x + module.bias.view(1, -1, 1, 1), 0.2)
            x = x - x.mean(dim=(2, 3), keepdim=True)
            rms = x.square().mean(dim=(2, 3)).sqrt().clamp_min(1e-8)
            out[i] = (x.abs().amax(dim=(2, 3)) / rms).cpu()

        handles.append(ep.register_forward_pre_hook(hook))
    try:
        with torch.inference_mode():
            generator.synthesize(wp)
    finally:
        for h in handles:
            h.remove()
    return out


def spiking_fraction(ratios: torch.Tensor, threshold: float) -> float:
    """Share of channels whose ratio exceeds ``threshold`` in more than half the samples."""
    return float(((ratios > threshold).float().mean(dim=0) > 0.5).float().mean())


def main(argv: list[str] | None = None) -> None:
    from strata.engine.core.models import load_generator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", help="generator file (repeatable; default: the bundled one)")
    ap.add_argument("-n", type=int, default=256, help="samples per model")
    ap.add_argument("--ratio", type=float, default=8.0, help="max/RMS above which a channel spikes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = args.model or [str(ROOT / "assets" / "rooms64_generator.pth")]

    rows, res = [], ()
    for path in models:
        g = load_generator(path).generator
        res = max(res, g.layer_resolutions, key=len)
        z = torch.randn(args.n, g.z_dim, generator=torch.Generator().manual_seed(args.seed))
        with torch.inference_mode():
            wp = g.truncate(g.mapping(z), 1.0)
        ratios = spike_ratios(g, wp)
        rows.append((Path(path).name, {i: (spiking_fraction(r, args.ratio), float(r.median()))
                                       for i, r in ratios.items()}))

    print(f"Channels spiking (max/RMS > {args.ratio:g} in more than half of {args.n} samples, psi 1), "
          f"and the median ratio; {platform.machine()}, {args.threads} threads.\n")
    print("| layer | resolution | " + " | ".join(name for name, _ in rows) + " |")
    print("|---:|---:|" + "---:|" * len(rows))
    for i, r in enumerate(res):
        cells = [f"{100 * d[i][0]:.1f}% (median {d[i][1]:.1f})" if i in d else "" for _, d in rows]
        print(f"| {i} | {r} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
