"""How far the rooms predictor's presence calls hold up under pixel noise, and how noisy generated images are.

    python benchmarks/predictor_noise.py [-m assets/rooms64_generator.pth ...] [-n 1000]

The frequency targets of `strata evaluate` are read by the rooms predictor,
which was trained on clean renders (with at most sigma 0.04 of noise as
augmentation). This measures, on freshly rendered rooms whose truth is known,
the predictor's false-positive rate (called present where absent) and its
true-positive rate for each binary semantic after adding Gaussian noise, grey
(the same on all three channels) or coloured (independent per channel). Then
it gives the high-frequency energy of rendered and generated images (the
standard deviation of the image minus its 3x3 box blur, median over images,
all channels; and the same for the colour part, the image minus its grey
mean), so that the noise levels can be compared with what a generator draws.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import platform

import torch
import torch.nn.functional as F


def high_frequency(images: torch.Tensor) -> tuple[float, float]:
    """Median over images of std(x - box3(x)): all channels, then the colour part only."""
    kernel = torch.ones(3, 1, 3, 3) / 9

    def hf(x):
        smooth = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
        return (x - smooth).std(dim=(1, 2, 3)).median().item()

    return hf(images), hf(images - images.mean(dim=1, keepdim=True))


def main() -> None:
    from strata.engine.core.models import load_generator
    from strata.engine.rooms.predictor import load_rooms_predictor
    from strata.engine.rooms.render import sample_rooms
    from strata.engine.rooms.semantics import SEMANTICS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", default=[], help="generator(s) to compare (repeatable)")
    ap.add_argument("-n", type=int, default=1000, help="images per set")
    ap.add_argument("--sigmas", default="0.04,0.08,0.15")
    ap.add_argument("--seed", type=int, default=777)
    args = ap.parse_args()
    torch.set_num_threads(1)
    predictor = load_rooms_predictor()
    binary = [s.name for s in SEMANTICS if s.kind != "continuous"]
    images, truth = sample_rooms(args.n, args.seed)
    print(f"{args.n} rendered rooms (seed {args.seed}); {platform.machine()}, torch {torch.__version__}\n")
    print("| noise | " + " | ".join(binary) + " |")
    print("|---|" + "---:|" * len(binary))
    cases = [("none", 0.0, "grey")] + [(f"{kind} σ={s}", float(s), kind)
                                       for s in args.sigmas.split(",") for kind in ("grey", "colour")]
    for label, sigma, kind in cases:
        g = torch.Generator().manual_seed(1)
        shape = (args.n, 1, *images.shape[2:]) if kind == "grey" else images.shape
        noisy = (images + sigma * torch.randn(shape, generator=g).expand_as(images)).clamp(-1, 1)
        with torch.no_grad():
            scores = predictor.predict(noisy)
        cells = []
        for name in binary:
            present = truth[name] > 0.5
            called = scores[name] > 0.5
            cells.append(f"{called[~present].float().mean():.2f} / {called[present].float().mean():.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nCells: false-positive rate / true-positive rate.\n")
    print("| images | high-frequency energy | of which colour |")
    print("|---|---:|---:|")
    hf, hf_colour = high_frequency(images)
    print(f"| rendered | {hf:.4f} | {hf_colour:.4f} |")
    for sigma in args.sigmas.split(","):
        noisy = images + float(sigma) * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))
        hf, hf_colour = high_frequency(noisy)
        print(f"| rendered + colour σ={sigma} | {hf:.4f} | {hf_colour:.4f} |")
    for path in args.model:
        G = load_generator(path, "cpu").generator
        z = torch.randn(args.n, G.z_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            fake = torch.cat([G.synthesize(G.truncate(G.mapping(c), 1.0)) for c in z.split(100)]).clamp(-1, 1)
        hf, hf_colour = high_frequency(fake)
        print(f"| {path} (ψ=1) | {hf:.4f} | {hf_colour:.4f} |")


if __name__ == "__main__":
    main()
