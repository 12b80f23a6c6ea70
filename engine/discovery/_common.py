"""What the discovery steps share: where sampled codes come from, the device, the predictor's scores.

Annotation and rescoring draw their codes here, so that sample ``k`` of a
run is the same code whichever step, batch size, shard or resume point asks
for it; both read a predictor through :func:`predict_scores`, so that its
images are prepared the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from strata.engine.core.boundary import LEVELS
from strata.engine.core.errors import StrataError

# How z is drawn: sample k of a run with seed s is
# numpy.random.default_rng([s, stream, k]).standard_normal(z_dim), stream 0
# for annotation and 1 for rescoring. Recorded so that a later change cannot
# silently mix two schemes in one merged run.
CODES = "numpy-seedseq-v1"
STREAM_ANNOTATE = 0
STREAM_RESCORE = 1
# The rescoring bootstrap draws its resamples from default_rng([s, 2]).
STREAM_BOOTSTRAP = 2

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def device_of(generator, device) -> torch.device:
    """``device`` if given (the generator is moved there), else the generator's own."""
    if device is not None:
        from strata.engine.core.device import resolve_device
        dev = resolve_device(device)
        if hasattr(generator, "to"):
            generator.to(dev)
        return dev
    dev = getattr(generator, "device", None)
    if isinstance(dev, torch.device):
        return dev
    try:
        return next(generator.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def draw_codes(seed: int, stream: int, start: int, stop: int, z_dim: int) -> np.ndarray:
    """float32 ``[stop - start, z_dim]``: one independent stream per sample index.

    Seeding per sample makes sample ``k`` the same whatever the batch size,
    shard or resume point; it costs about 30 us a sample.
    """
    out = np.empty((stop - start, z_dim), dtype=np.float32)
    for row, k in enumerate(range(start, stop)):
        out[row] = np.random.default_rng([seed, stream, k]).standard_normal(z_dim)
    return out


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise StrataError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def semantics_of(predictor) -> list[dict]:
    specs = []
    seen = set()
    for s in getattr(predictor, "semantics", ()):
        spec = {"name": str(s.name), "level": str(s.level), "kind": str(s.kind),
                "doc": str(getattr(s, "doc", ""))}
        if not _NAME.match(spec["name"]):
            raise StrataError(f"predictor {predictor.name!r}: semantic name {spec['name']!r} must be "
                              "letters, digits, '_', '.' or '-'")
        if spec["name"] in seen:
            raise StrataError(f"predictor {predictor.name!r} names semantic {spec['name']!r} twice")
        if spec["kind"] not in ("continuous", "binary"):
            raise StrataError(f"predictor {predictor.name!r}: semantic {spec['name']!r} has kind "
                              f"{spec['kind']!r}, not 'continuous' or 'binary'")
        if spec["level"] not in LEVELS:
            spec["level"] = "unknown"
        seen.add(spec["name"])
        specs.append(spec)
    if not specs:
        raise StrataError(f"predictor {getattr(predictor, 'name', predictor)!r} declares no semantics")
    return specs


def predict_scores(predictor, images: torch.Tensor, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Scores ``{name: float32 [n]}`` of ``images`` (clamped, resized to the predictor's input)."""
    images = images.clamp(-1.0, 1.0)
    size = getattr(predictor, "input_resolution", None)
    if size and (images.shape[-2], images.shape[-1]) != (int(size), int(size)):
        images = F.interpolate(images, size=(int(size), int(size)), mode="bilinear",
                               align_corners=False, antialias=True)
    out = predictor.predict(images)
    scores = {}
    n = images.shape[0]
    for name in names:
        if name not in out:
            raise StrataError(f"predictor {predictor.name!r} gave no score for {name!r}")
        value = out[name]
        value = value.detach().float().cpu().numpy() if isinstance(value, torch.Tensor) \
            else np.asarray(value, dtype=np.float32)
        value = value.reshape(-1).astype(np.float32, copy=False)
        if value.shape[0] != n:
            raise StrataError(f"predictor {predictor.name!r} gave {value.shape[0]} scores for "
                              f"{name!r} on {n} images")
        if not np.all(np.isfinite(value)):
            raise StrataError(f"predictor {predictor.name!r} gave NaN or infinite scores for {name!r}")
        scores[name] = value
    return scores
