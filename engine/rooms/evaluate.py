"""Quality of a generator trained on the rooms world, measured against rendered rooms.

- Frequencies: for every binary semantic (objects present, binary
  attributes), the share of samples where the predictor says yes (score >
  0.5), among generated images (at the model's truncation and at psi 1.0)
  and among rendered rooms. The same predictor reads both, so its own errors
  cancel; the world's true frequency is reported beside them.
- KID (kernel inception distance, here in the feature space of the rooms
  predictor's trunk): the unbiased MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets. Reported beside
  the rendered-against-rendered baseline (two independent sets of rooms),
  which is what "indistinguishable" looks like.

A plain function with progress / should_stop callbacks; ``strata evaluate``
wraps it.
"""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from strata.engine.core.jobs import Cancelled, Progress, ShouldStop, report, stopping

__all__ = ["kid", "evaluate_generator", "report_markdown"]


def kid(a: np.ndarray, b: np.ndarray, *, subsets: int = 50, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased MMD^2 (cubic kernel) over subsets."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    rng = np.random.RandomState(seed)
    vals = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
               - 2 * kxy.mean())
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


def _batches(n: int, batch: int):
    for start in range(0, n, batch):
        yield start, min(n, start + batch)


def evaluate_generator(model_path: str | Path, *, predictor="rooms", n: int = 2000, seed: int = 0,
                       psis: tuple[float, ...] | None = None, batch_size: int = 100, device=None,
                       grid_path: str | Path | None = None,
                       progress: Progress | None = None,
                       should_stop: ShouldStop | None = None) -> dict:
    """Frequencies of the binary semantics and KID, generated against rendered rooms.

    Parameters
    ----------
    model_path : path
        A generator trained on the rooms world.
    predictor : str, path or predictor
        What reads the images
        (:func:`~strata.engine.discovery.predictors.resolve_predictor`): it
        needs ``features`` besides ``predict``, as the rooms predictor has.
    n, seed, batch_size
        Images per set, the seed of every set, images per forward pass.
    psis : tuple of float, optional
        Truncations of the generated sets (default: the model's and 1).
    grid_path : path, optional
        Where to write a 4x4 grid of samples (PNG).
    progress, should_stop
        Callbacks; stopping raises :class:`~strata.engine.core.jobs.Cancelled`.

    Returns
    -------
    dict
        The figures :func:`report_markdown` prints.
    """
    from strata.engine.core.models import load_generator
    from strata.engine.discovery.predictors import resolve_predictor
    from strata.engine.rooms.render import sample_rooms
    from strata.engine.rooms.train import image_grid

    model = load_generator(model_path, device)
    g = model.generator
    dev = g.device
    pred = resolve_predictor(predictor, dev)
    binary = [s.name for s in pred.semantics if s.kind == "binary"]
    psis = tuple(psis) if psis else (g.default_psi, 1.0)
    steps = (len(psis) + 2) * math.ceil(n / batch_size)
    done = 0
    t0 = time.perf_counter()

    def tick(msg: str) -> None:
        nonlocal done
        done += 1
        if stopping(should_stop):
            raise Cancelled("evaluation cancelled")
        report(progress, done / steps, msg)

    def read(images: torch.Tensor) -> tuple[dict, np.ndarray]:
        with torch.inference_mode():
            scores = pred.predict(images)
            feats = pred.features(images)
        return {k: v.float().cpu().numpy() for k, v in scores.items()}, feats.float().cpu().numpy()

    def collect(make, label: str) -> tuple[dict, np.ndarray, dict]:
        scores, feats, truth = {}, [], {}
        for s, e in _batches(n, batch_size):
            images, true = make(s, e)
            sc, f = read(images)
            for k, v in sc.items():
                scores.setdefault(k, []).append(v)
            for k, v in (true or {}).items():
                truth.setdefault(k, []).append(np.asarray(v))
            feats.append(f)
            tick(label)
        return ({k: np.concatenate(v) for k, v in scores.items()}, np.concatenate(feats),
                {k: np.concatenate(v) for k, v in truth.items()})

    def rendered(offset: int):
        def make(s, e):
            imgs, true = sample_rooms(e - s, seed * 7919 + offset + s, resolution=g.resolution)
            return imgs.to(dev), {k: v.numpy() for k, v in true.items()}
        return make

    def generated(psi: float):
        rng = np.random.RandomState(seed + 1)
        z_all = rng.randn(n, g.z_dim).astype(np.float32)

        def make(s, e):
            with torch.inference_mode():
                z = torch.from_numpy(z_all[s:e]).to(dev)
                return g.synthesize(g.truncate(g.mapping(z), psi)), None
        return make

    real_scores, real_feats, truth = collect(rendered(0), "rendered rooms")
    base_scores, base_feats, _ = collect(rendered(10_000_000), "rendered rooms (baseline set)")
    result = {
        "model": str(model.path), "model_fingerprint": model.fingerprint, "n": n, "seed": seed,
        "predictor": getattr(pred, "name", str(predictor)),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, device {dev}",
        "kid_baseline": kid(real_feats, base_feats),
        "frequencies": {b: {"world_truth": float((truth[b] > 0.5).mean()),
                            "rendered": float((real_scores[b] > 0.5).mean())} for b in binary},
        "psi": {},
    }
    for psi in psis:
        gen_scores, gen_feats, _ = collect(generated(psi), f"generated, psi {psi:g}")
        key = f"{psi:g}"
        result["psi"][key] = {"kid": kid(gen_feats, real_feats)}
        for b in binary:
            result["frequencies"][b][f"generated_psi_{key}"] = float((gen_scores[b] > 0.5).mean())
    worst = 0.0
    for b, f in result["frequencies"].items():
        for k, v in f.items():
            if k.startswith("generated"):
                worst = max(worst, abs(v - f["rendered"]))
    result["max_frequency_gap"] = worst
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if grid_path is not None:
        from PIL import Image
        from strata.engine.core.atomic import atomic_write_bytes
        import io
        z = torch.from_numpy(np.random.RandomState(seed + 2).randn(16, g.z_dim).astype(np.float32)).to(dev)
        with torch.inference_mode():
            imgs = g.synthesize(g.truncate(g.mapping(z), psis[0]))
        grid = Image.fromarray(image_grid(imgs, 4))
        grid = grid.resize((grid.width * 2, grid.height * 2), Image.NEAREST)
        buf = io.BytesIO()
        grid.save(buf, format="PNG")
        atomic_write_bytes(Path(grid_path), buf.getvalue())
    return result


def report_markdown(r: dict, command: str = "") -> str:
    psis = list(r["psi"])
    lines = [f"Model `{Path(r['model']).name}` (sha256 {r['model_fingerprint'][:12]}), "
             f"{r['n']} samples per set, predictor `{r['predictor']}`, seed {r['seed']}; "
             f"{r['machine']}; {r['seconds']} s.", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += ["| semantic | world (truth) | rendered (predictor) | " +
              " | ".join(f"generated ψ={p} (predictor)" for p in psis) + " | largest gap |",
              "|---|---:|---:|" + "---:|" * len(psis) + "---:|"]
    for b, f in r["frequencies"].items():
        gens = [f[f"generated_psi_{p}"] for p in psis]
        gap = max(abs(x - f["rendered"]) for x in gens)
        lines.append(f"| {b} | {f['world_truth']:.3f} | {f['rendered']:.3f} | " +
                     " | ".join(f"{x:.3f}" for x in gens) + f" | {gap:.3f}{' ✗' if gap > 0.1 else ''} |")
    lines += ["", f"Largest frequency gap: **{r['max_frequency_gap']:.3f}** (target: within 0.1).", "",
              "| KID (predictor-trunk features) | mean | std over subsets |", "|---|---:|---:|",
              f"| rendered vs rendered (baseline) | {r['kid_baseline'][0]:.5f} | {r['kid_baseline'][1]:.5f} |"]
    for p in psis:
        k = r["psi"][p]["kid"]
        lines.append(f"| generated ψ={p} vs rendered | {k[0]:.5f} | {k[1]:.5f} |")
    return "\n".join(lines) + "\n"
