"""HiGAN's pipeline, headless: find which layers of a generator hold which semantics.

Yang, Shen & Zhou ("Semantic Hierarchy Emerges in Deep Generative
Representations for Scene Synthesis") probe a generator in four steps, and
so does this module (the method and the file formats are described in
``docs/analysis.md``):

1. **Annotate.** Sample codes ``z``, map them to ``w``, synthesize at
   truncation ``psi`` and score every image with a predictor
   (:func:`sample_and_annotate`; shards of one big run are joined by
   :func:`merge_annotations`).
2. **Fit.** For each semantic, take the ``k`` highest- and ``k``
   lowest-scoring codes, fit a linear SVM on ``w`` and keep its unit normal
   as the boundary (:func:`fit_boundaries`, :func:`condition_boundary`).
3. **Rescore.** On fresh samples, move ``+lam`` along each boundary on all
   layers and on each single layer, re-annotate, and measure the mean
   increase of the score, ``dS``, with a bootstrap over the samples for its
   standard error and interval and for how stable the conclusions below
   are (:func:`rescore`).
4. **Read the hierarchy.** The layers holding most of the response give the
   boundary's default layers and its level (:func:`choose_layers`,
   :func:`level_of`); :func:`write_library` saves the boundaries and a
   report. :func:`run_discovery` does all of it, resumably.

Every long step takes ``progress(fraction, message)`` and ``should_stop()``
callbacks and raises :class:`Cancelled` when asked to stop. Work stays on
the generator's device (CUDA when present).

Predictors
----------
A predictor has ``name``, ``semantics`` (records with ``name``, ``level``,
``kind`` = ``"continuous"`` or ``"binary"``, ``doc``), ``input_resolution``
and ``predict(images) -> {semantic: tensor [n]}`` for images ``[n, 3, H, W]``
in [-1, 1]. Images are clamped to [-1, 1] and, when ``input_resolution``
differs from the generator's, resized (bilinear, antialiased) before
``predict``. Binary semantics are scored by their predicted probability.

Public API
----------
Cancelled
Annotations, load_annotations(path), merge_annotations(paths, out_path)
sample_and_annotate(generator, predictor, n, *, seed, psi, batch_size, out_path, shard, ...)
shard_range(n, batch_size, shard), shard_file_name(index, count)
FittedBoundary, fit_boundaries(annotations, *, top, val_fraction, conditions, seed)
condition_boundary(primal, conditions)
LayerResponse, Rescoring, rescore(generator, predictor, boundaries, *, m, lam, seed, psi, ...)
choose_layers(profile, *, mass=0.6), level_of(layers, num_layers, layer_resolutions)
write_library(boundaries, rescoring, out_dir, *, model_fingerprint, command)
run_discovery(model_path, *, predictor, n, m, lam, k, seed, out_dir, batch_size, device, ...)
load_predictor(name_or_predictor, device)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from strata.engine.core.atomic import atomic_open, atomic_write_bytes
from strata.engine.core.boundary import LEVELS, Boundary, save_boundary
from strata.engine.core.edits import Edit, apply_edits
from strata.engine.core.errors import StrataError
from strata.engine.discovery.report import hierarchy_image, hierarchy_markdown

__all__ = [
    "ANNOTATIONS_FILE",
    "BOOTSTRAP_RESAMPLES",
    "LEVEL_THRESHOLDS",
    "Annotations",
    "Cancelled",
    "FittedBoundary",
    "LayerResponse",
    "Rescoring",
    "choose_layers",
    "condition_boundary",
    "fit_boundaries",
    "level_of",
    "load_annotations",
    "load_predictor",
    "merge_annotations",
    "rescore",
    "run_discovery",
    "sample_and_annotate",
    "shard_file_name",
    "shard_range",
    "write_library",
]

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]

ANNOTATIONS_FILE = "annotations.npz"
ANNOTATIONS_FORMAT = "strata-annotations"
ANNOTATIONS_VERSION = 1
# How z is drawn: sample k of a run with seed s is
# numpy.random.default_rng([s, stream, k]).standard_normal(z_dim), stream 0
# for annotation and 1 for rescoring. Recorded so that a later change cannot
# silently mix two schemes in one merged run.
CODES = "numpy-seedseq-v1"
_STREAM_ANNOTATE = 0
_STREAM_RESCORE = 1
# The rescoring bootstrap draws its resamples from default_rng([s, 2]).
_STREAM_BOOTSTRAP = 2

# Fields that must agree for two annotation files to belong to one run.
_RUN_KEYS = ("format", "version", "codes", "model_fingerprint", "seed", "psi", "predictor",
             "semantics", "n_total", "batch_size", "z_dim", "w_dim", "num_layers")

HIERARCHY_FORMAT = "strata-hierarchy"
RESCORE_CACHE = "rescore.json"
LIBRARY_DIR = "boundaries"

# Where a layer range sits decides its level; see level_of.
LEVEL_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("layout", 0.25), ("object", 0.55), ("attribute", 0.85), ("colour", math.inf))
DEFAULT_MASS = 0.6
# Bootstrap resamples of the rescoring samples (dS intervals, stability).
BOOTSTRAP_RESAMPLES = 1000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so one run always writes the same bytes


class Cancelled(StrataError):
    """The caller asked a long step to stop; what was finished is kept on disk."""


# --------------------------------------------------------------------------- small helpers


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


def _stopping(should_stop: ShouldStop | None) -> bool:
    return should_stop is not None and bool(should_stop())


def _device_of(generator, device) -> torch.device:
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


def _weights_fingerprint(generator) -> str | None:
    """sha256 over the generator's state dict, for runs given a module and no file fingerprint."""
    state = getattr(generator, "state_dict", None)
    if state is None:
        return None
    h = hashlib.sha256()
    for key, value in sorted(state().items()):
        h.update(key.encode("utf-8"))
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return "weights-sha256:" + h.hexdigest()


def _codes(seed: int, stream: int, start: int, stop: int, z_dim: int) -> np.ndarray:
    """float32 ``[stop - start, z_dim]``: one independent stream per sample index.

    Seeding per sample makes sample ``k`` the same whatever the batch size,
    shard or resume point; it costs about 30 us a sample.
    """
    out = np.empty((stop - start, z_dim), dtype=np.float32)
    for row, k in enumerate(range(start, stop)):
        out[row] = np.random.default_rng([seed, stream, k]).standard_normal(z_dim)
    return out


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise StrataError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _semantics_of(predictor) -> list[dict]:
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


def _predict(predictor, images: torch.Tensor, names: Sequence[str]) -> dict[str, np.ndarray]:
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


def _json_bytes(obj) -> np.ndarray:
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return np.frombuffer(data, dtype=np.uint8)


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` with fixed zip timestamps, written atomically.

    Same arrays, same bytes: a merged run and a single run can be compared
    with ``cmp``.
    """
    with atomic_open(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, arr in arrays.items():
                info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True, eq=False)
class Annotations:
    """Sampled codes and their scores: one run, one shard of a run, or a partial run.

    Parameters
    ----------
    z : numpy.ndarray
        float32 ``[count, z_dim]``, the sampled codes.
    w : numpy.ndarray
        float32 ``[count, w_dim]``, ``mapping(z)``, untruncated.
    scores : Mapping[str, numpy.ndarray]
        float32 ``[count]`` per semantic (a probability for binary ones).
    meta : Mapping
        The run's record (see ``docs/analysis.md``): ``model_fingerprint``,
        ``psi``, ``seed``, ``predictor``, ``semantics``, ``n_total``,
        ``start``/``stop`` (the slice of the run this file covers),
        ``count`` (how much of it is done), ``shard``, ``batch_size`` ...
    """

    z: np.ndarray
    w: np.ndarray
    scores: Mapping[str, np.ndarray]
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def count(self) -> int:
        """Samples held."""
        return int(self.w.shape[0])

    @property
    def start(self) -> int:
        return int(self.meta.get("start", 0))

    @property
    def stop(self) -> int:
        return int(self.meta.get("stop", self.start + self.count))

    @property
    def complete(self) -> bool:
        """True when the file holds its whole slice ``start..stop``."""
        return self.count == self.stop - self.start

    @property
    def semantics(self) -> list[dict]:
        """``[{name, level, kind, doc}]`` in the predictor's order (defaults for bare score arrays)."""
        declared = {s["name"]: dict(s) for s in self.meta.get("semantics", ())}
        return [declared.get(name, {"name": name, "level": "unknown", "kind": "continuous", "doc": ""})
                for name in self.scores]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as stored: ``z``, ``w``, ``score.<name>``, ``meta``."""
        out = {"z": self.z, "w": self.w}
        out.update({f"score.{name}": s for name, s in self.scores.items()})
        out["meta"] = _json_bytes(dict(self.meta))
        return out


def _save_annotations(ann: Annotations, path: Path) -> None:
    _write_npz(path, ann.arrays())


def load_annotations(path: str | os.PathLike) -> Annotations:
    """Read an annotation file written by :func:`sample_and_annotate` or :func:`merge_annotations`.

    Raises
    ------
    StrataError
        Missing, damaged, or not an annotation file.
    """
    path = Path(path)
    label = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = set(npz.files)
            if not {"z", "w", "meta"} <= files:
                raise StrataError(f"{label}: not a Strata annotation file (needs arrays z, w, meta)")
            meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
            z, w = npz["z"], npz["w"]
            names = [s["name"] for s in meta.get("semantics", ())]
            missing = [n for n in names if f"score.{n}" not in files]
            if missing:
                raise StrataError(f"{label}: scores missing for {', '.join(missing)}")
            scores = {n: npz[f"score.{n}"] for n in names}
    except StrataError:
        raise
    except FileNotFoundError:
        raise StrataError(f"{label}: no such file") from None
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, TypeError,
            UnicodeDecodeError) as exc:
        raise StrataError(f"{label}: damaged or not an annotation file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != ANNOTATIONS_FORMAT:
        raise StrataError(f"{label}: not a Strata annotation file")
    if meta.get("version", 0) > ANNOTATIONS_VERSION:
        raise StrataError(f"{label}: annotation format version {meta.get('version')} is newer than "
                          "this Strata reads; update Strata")
    if z.ndim != 2 or w.ndim != 2:
        raise StrataError(f"{label}: codes z {tuple(z.shape)} and w {tuple(w.shape)} must be [N, dim] arrays")
    n = w.shape[0]
    if z.shape[0] != n or any(s.shape != (n,) for s in scores.values()) or meta.get("count") != n:
        raise StrataError(f"{label}: arrays disagree in length (damaged file?)")
    return Annotations(z=z, w=w, scores=scores, meta=meta)


def shard_range(n: int, batch_size: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Samples ``start..stop`` (stop exclusive) that ``shard = (index, count)`` of an ``n``-sample run covers.

    The run is cut into batches of ``batch_size`` aligned at sample 0; shard
    ``i`` of ``c`` takes batches ``floor(i*B/c) .. floor((i+1)*B/c) - 1`` of
    the ``B`` batches, so every batch is computed exactly as in a single
    run. With more shards than batches some shards are empty.
    """
    n, batch_size = int(n), int(batch_size)
    if n < 1:
        raise StrataError(f"the number of samples must be at least 1, got {n}")
    if batch_size < 1:
        raise StrataError(f"batch size must be at least 1, got {batch_size}")
    if shard is None:
        return 0, n
    index, count = (int(v) for v in shard)
    if count < 1 or not 0 <= index < count:
        raise StrataError(f"shard {index}/{count} is not valid (need 0 <= index < count)")
    batches = -(-n // batch_size)
    first, last = index * batches // count, (index + 1) * batches // count
    return min(first * batch_size, n), min(last * batch_size, n)


def shard_file_name(index: int, count: int) -> str:
    """``annotations.shard-<index>-of-<count>.npz``."""
    return f"annotations.shard-{int(index)}-of-{int(count)}.npz"


def _run_mismatch(a: Mapping, b: Mapping) -> str | None:
    for key in _RUN_KEYS:
        if a.get(key) != b.get(key):
            return f"{key} {b.get(key)!r} vs {a.get(key)!r}"
    return None


def sample_and_annotate(generator, predictor, n: int, *, seed: int = 0, psi: float | None = None,
                        batch_size: int = 64, out_path: str | os.PathLike,
                        shard: tuple[int, int] | None = None, model_fingerprint: str | None = None,
                        device=None, checkpoint_seconds: float = 60.0,
                        progress: Progress | None = None,
                        should_stop: ShouldStop | None = None) -> Annotations:
    """Sample ``n`` codes, synthesize them at truncation ``psi`` and score each image.

    The file at ``out_path`` is rewritten atomically every
    ``checkpoint_seconds`` (at least ten times as long as a write takes) and
    when stopped; calling again with the same arguments resumes from the
    saved count, and a finished file is returned as it is.

    Parameters
    ----------
    generator : strata.engine.core.protocol.Generator
        The model; used under ``torch.inference_mode``.
    predictor
        Scores images (see the module docstring).
    n : int
        Samples in the whole run (all shards together).
    seed : int
        Run seed; sample ``k`` is drawn from ``default_rng([seed, 0, k])``.
    psi : float, optional
        Truncation for synthesis (the stored ``w`` is untruncated); default
        ``generator.default_psi``.
    batch_size : int
        Images per forward pass. Part of the run's identity: shards and
        resumed runs must use the same value so that every batch (and so
        every bit) matches a single run.
    out_path : path
        The ``.npz`` to write (and resume from).
    shard : (int, int), optional
        ``(index, count)``: annotate only that slice (see :func:`shard_range`).
    model_fingerprint : str, optional
        Recorded and checked on resume and merge; default: a hash of the
        generator's weights.
    device : optional
        Where to compute; default: where the generator is.
    checkpoint_seconds : float
        Least time between two partial saves (0 = after every batch).
    progress, should_stop
        Callbacks; stopping saves what is done and raises :class:`Cancelled`.

    Returns
    -------
    Annotations
        The finished file's contents.

    Raises
    ------
    StrataError
        Bad arguments, an ``out_path`` holding another run, or a predictor
        that misbehaves.
    Cancelled
        ``should_stop()`` returned True; progress is saved.
    """
    out_path = Path(out_path)
    seed = _check_seed(seed)
    start, stop = shard_range(n, batch_size, shard)
    dev = _device_of(generator, device)
    psi = float(generator.default_psi if psi is None else psi)
    if not math.isfinite(psi):
        raise StrataError(f"truncation psi must be a finite number, got {psi!r}")
    semantics = _semantics_of(predictor)
    names = [s["name"] for s in semantics]
    meta = {
        "format": ANNOTATIONS_FORMAT, "version": ANNOTATIONS_VERSION, "codes": CODES,
        "model_fingerprint": model_fingerprint or _weights_fingerprint(generator),
        "seed": seed, "psi": psi, "predictor": str(predictor.name), "semantics": semantics,
        "n_total": int(n), "batch_size": int(batch_size),
        "z_dim": int(generator.z_dim), "w_dim": int(generator.w_dim),
        "num_layers": int(generator.num_layers),
        "layer_resolutions": [int(r) for r in generator.layer_resolutions],
        "shard": None if shard is None else [int(shard[0]), int(shard[1])],
        "start": start, "stop": stop,
    }
    size = stop - start
    z_all = np.empty((size, meta["z_dim"]), dtype=np.float32)
    w_all = np.empty((size, meta["w_dim"]), dtype=np.float32)
    s_all = {name: np.empty(size, dtype=np.float32) for name in names}
    count = 0
    if out_path.exists():
        prev = load_annotations(out_path)
        why = _run_mismatch(meta, prev.meta)
        if why is None and (prev.start, prev.stop) != (start, stop):
            why = f"samples {prev.start}-{prev.stop} vs {start}-{stop}"
        if why is not None:
            raise StrataError(f"{out_path} holds another run ({why}); delete it or write elsewhere")
        count = prev.count
        if count < size and count % batch_size:
            raise StrataError(f"{out_path}: saved count {count} is not on a batch boundary (damaged file?)")
        if prev.complete:
            _report(progress, 1.0, f"annotations already complete ({size} samples)")
            return prev
        z_all[:count], w_all[:count] = prev.z, prev.w
        for name in names:
            s_all[name][:count] = prev.scores[name]

    saved = count

    def snapshot() -> Annotations:
        return Annotations(z=z_all[:count], w=w_all[:count],
                           scores={k: v[:count] for k, v in s_all.items()},
                           meta={**meta, "count": count})

    def save() -> float:
        nonlocal saved
        t0 = time.perf_counter()
        _save_annotations(snapshot(), out_path)
        saved = count
        return time.perf_counter() - t0

    next_save = time.monotonic() + checkpoint_seconds
    _report(progress, count / size if size else 1.0,
            f"annotating: {count}/{size} samples" + (" (resumed)" if count else ""))
    try:
        with torch.inference_mode():
            while count < size:
                if _stopping(should_stop):
                    raise Cancelled(f"annotation stopped at {count} of {size} samples; "
                                    "run the same command again to continue")
                lo, hi = start + count, min(start + count + batch_size, stop)
                z = _codes(seed, _STREAM_ANNOTATE, lo, hi, meta["z_dim"])
                w = generator.mapping(torch.from_numpy(z).to(dev))
                images = generator.synthesize(generator.truncate(w, psi))
                scores = _predict(predictor, images, names)
                rows = slice(count, count + (hi - lo))
                z_all[rows] = z
                w_all[rows] = w.float().cpu().numpy()
                for name in names:
                    s_all[name][rows] = scores[name]
                count += hi - lo
                _report(progress, count / size, f"annotating: {count}/{size} samples")
                if count < size and time.monotonic() >= next_save:
                    took = save()
                    next_save = time.monotonic() + max(checkpoint_seconds, 10 * took)
    except BaseException:
        if count > saved:
            try:
                save()
            except StrataError:
                pass  # the original error matters more; the previous save is intact
        raise
    save()
    return snapshot()


def merge_annotations(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> Annotations:
    """Join the shards of one run into the file a single run would have written.

    Parameters
    ----------
    paths : sequence of path
        Shard files (any order); together they must cover the run exactly.
    out_path : path
        Where to write the merged file (atomically).

    Raises
    ------
    StrataError
        No files, an unfinished shard, shards of different runs (seed,
        model, psi, predictor, semantics, size or batch size differ), or
        shards that overlap or leave a gap.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise StrataError("no annotation shards to merge")
    parts = []
    for p in paths:
        ann = load_annotations(p)
        if not ann.complete:
            raise StrataError(f"{p} is unfinished ({ann.count} of {ann.stop - ann.start} samples); "
                              "run that shard again to complete it")
        parts.append((p, ann))
    ref_path, ref = parts[0]
    for p, ann in parts[1:]:
        why = _run_mismatch(ref.meta, ann.meta)
        if why is not None:
            raise StrataError(f"{p} and {ref_path} belong to different runs ({why})")
    parts.sort(key=lambda pa: (pa[1].start, pa[1].stop))
    pos = 0
    for p, ann in parts:
        if ann.start > pos:
            raise StrataError(f"shards leave samples {pos}-{ann.start - 1} out "
                              f"(missing a shard before {p.name})")
        if ann.start < pos and ann.stop > ann.start:
            raise StrataError(f"{p.name} overlaps another shard at samples {ann.start}-{pos - 1}")
        pos = max(pos, ann.stop)
    n_total = int(ref.meta["n_total"])
    if pos != n_total:
        raise StrataError(f"shards leave samples {pos}-{n_total - 1} out (missing the last shards)")
    full = [ann for _, ann in parts if ann.count]
    meta = {**ref.meta, "shard": None, "start": 0, "stop": n_total, "count": n_total}
    merged = Annotations(
        z=np.concatenate([a.z for a in full]), w=np.concatenate([a.w for a in full]),
        scores={s["name"]: np.concatenate([a.scores[s["name"]] for a in full])
                for s in ref.meta["semantics"]},
        meta=meta)
    _save_annotations(merged, Path(out_path))
    return merged


# --------------------------------------------------------------------------- boundaries


@dataclass(frozen=True, eq=False)
class FittedBoundary:
    """A boundary fitted for one semantic, or the reason none could be.

    Parameters
    ----------
    name : str
        The semantic's name, or ``<primal>_cond_<c1>[_<c2>]`` for a
        conditional boundary.
    semantic : str
        The score the boundary moves (the primal one for conditional boundaries).
    vector : numpy.ndarray or None
        float32 unit normal ``[w_dim]`` pointing toward higher scores; None
        when the semantic could not be fitted (see ``note``).
    declared_level, kind : str
        What the predictor declares for the semantic.
    accuracy : float or None
        Validation accuracy on the held-out top/bottom samples.
    k, n_train, n_val : int
        Samples per class taken, and the sizes of the two splits (both classes).
    conditions : tuple of str
        Semantics the boundary was made orthogonal to.
    note : str
        Why there is no vector, when there is none.
    """

    name: str
    semantic: str
    vector: np.ndarray | None
    declared_level: str = "unknown"
    kind: str = "continuous"
    accuracy: float | None = None
    k: int = 0
    n_train: int = 0
    n_val: int = 0
    conditions: tuple[str, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.vector is not None

    def to_boundary(self, **kw) -> Boundary:
        """The project's :class:`~strata.engine.core.boundary.Boundary` for this vector (``kw`` passed on)."""
        if self.vector is None:
            raise StrataError(f"semantic {self.name!r} has no boundary: {self.note}")
        return Boundary(name=self.name, vector=self.vector, accuracy=self.accuracy, **kw)

    def to_dict(self) -> dict:
        return {"name": self.name, "semantic": self.semantic,
                "vector": None if self.vector is None else [float(v) for v in self.vector],
                "declared_level": self.declared_level, "kind": self.kind, "accuracy": self.accuracy,
                "k": self.k, "n_train": self.n_train, "n_val": self.n_val,
                "conditions": list(self.conditions), "note": self.note}


def _unit(vector, what: str) -> np.ndarray:
    v = np.asarray(getattr(vector, "vector", vector), dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise StrataError(f"{what} has zero length or non-finite values")
    return v / norm


def condition_boundary(primal, conditions: Sequence) -> np.ndarray:
    """The primal boundary made orthogonal to one or two condition boundaries.

    For one condition ``n2``: ``n1 - (n1 . n2) n2``. For two, ``n1 - a n2 -
    b n3`` with ``(a, b)`` solving ``[[1, c], [c, 1]] (a, b) = (n1 . n2,
    n1 . n3)``, ``c = n2 . n3`` (InterFaceGAN's conditional manipulation, as
    used by HiGAN). Moving along the result leaves the conditions' scores
    unchanged to first order.

    Parameters
    ----------
    primal : array-like or Boundary
        ``[w_dim]``.
    conditions : sequence of array-like or Boundary
        One or two directions of the same dimension.

    Returns
    -------
    numpy.ndarray
        float64 unit vector ``[w_dim]``.

    Raises
    ------
    StrataError
        Not one or two conditions, mismatched dimensions, parallel
        conditions, or a primal inside their span.
    """
    n1 = _unit(primal, "primal boundary")
    if not 1 <= len(conditions) <= 2:
        raise StrataError(f"a conditional boundary takes one or two conditions, got {len(conditions)}")
    cond = np.stack([_unit(c, f"condition {i + 1}") for i, c in enumerate(conditions)]) \
        if all(np.size(getattr(c, "vector", c)) == n1.size for c in conditions) else None
    if cond is None:
        raise StrataError("conditions must have the primal boundary's dimension")
    gram = cond @ cond.T
    if len(cond) == 2 and abs(np.linalg.det(gram)) < 1e-8:
        raise StrataError("the two conditions are parallel; use one of them")
    coef = np.linalg.solve(gram, cond @ n1)
    out = n1 - coef @ cond
    norm = float(np.linalg.norm(out))
    if norm < 1e-6:
        raise StrataError("the primal boundary lies in the span of its conditions")
    return out / norm


def _top_k(top, n: int) -> int:
    if isinstance(top, bool):
        raise StrataError(f"top must be a count or a fraction, got {top!r}")
    if isinstance(top, (int, np.integer)) or (isinstance(top, float) and top >= 1 and top.is_integer()):
        k = int(top)
    elif isinstance(top, float) and 0 < top < 1:
        k = max(1, int(round(top * n)))
    else:
        raise StrataError(f"top must be a count >= 1 or a fraction in (0, 1), got {top!r}")
    if k < 1 or 2 * k > n:
        raise StrataError(f"top {k} per class needs at least {2 * k} samples; the annotations hold {n}")
    return k


def _threshold_accuracy(train_x, train_y, val_x, val_y) -> float:
    """Validation accuracy of the best training threshold on 1-D projections (positives above)."""
    order = np.argsort(train_x, kind="stable")
    xs, ys = train_x[order], train_y[order]
    # Cut after i samples: negatives predicted for the first i.
    neg_ok = np.concatenate([[0], np.cumsum(ys == 0)])
    pos_ok = (ys == 1).sum() - np.concatenate([[0], np.cumsum(ys == 1)])
    i = int(np.argmax(neg_ok + pos_ok))
    if i == 0:
        cut = xs[0] - 1.0
    elif i == len(xs):
        cut = xs[-1] + 1.0
    else:
        cut = 0.5 * (xs[i - 1] + xs[i])
    return float(np.mean((val_x > cut) == (val_y == 1)))


def fit_boundaries(annotations: Annotations | str | os.PathLike, *, top: float | int = 0.02,
                   val_fraction: float = 0.3,
                   conditions: Mapping[str, Sequence[str]] | None = None,
                   semantics: Sequence[str] | None = None, seed: int = 0, C: float = 1.0,
                   max_iter: int = 10000, progress: Progress | None = None,
                   should_stop: ShouldStop | None = None) -> list[FittedBoundary]:
    """Fit one linear boundary in W per semantic, as HiGAN does.

    For each semantic the ``k`` highest-scoring samples are positives and
    the ``k`` lowest negatives (binary semantics: by predicted
    probability; ties keep sample order). Each class is shuffled with
    ``seed`` and split ``1 - val_fraction`` / ``val_fraction``; a
    :class:`sklearn.svm.LinearSVC` is fitted on the training ``w`` and its
    normal, scaled to unit length and pointing toward the positives, is
    the boundary. Validation accuracy is reported.

    The SVM sees raw ``w`` (as HiGAN), not standardised features, so that
    the normal is a direction in W itself; it is only centred on the
    training mean, which leaves the normal's meaning alone but keeps
    liblinear's penalised intercept from tilting it when ``w`` sits far
    from the origin.

    Parameters
    ----------
    annotations : Annotations or path
        A complete run.
    top : int or float
        ``k`` as a count (>= 1) or a fraction of the samples (HiGAN: 0.02).
    val_fraction : float
        Share of each class held out, in [0, 1).
    conditions : mapping, optional
        ``{primal: [condition, ...]}``: also make ``primal``'s boundary
        orthogonal to one or two others (:func:`condition_boundary`); the
        result is named ``<primal>_cond_<c1>[_<c2>]``.
    semantics : sequence of str, optional
        Fit only these (default: all).
    seed : int
        For the split and liblinear's shuffling.
    C, max_iter
        Passed to LinearSVC.

    Returns
    -------
    list of FittedBoundary
        One per semantic (then one per condition), in the predictor's
        order. A semantic whose top and bottom ``k`` scores overlap (e.g. a
        score that never varies) comes back with ``vector=None`` and a note.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC
    import warnings

    if not isinstance(annotations, Annotations):
        annotations = load_annotations(annotations)
    if not annotations.complete:
        raise StrataError(f"annotations are unfinished ({annotations.count} of "
                          f"{annotations.stop - annotations.start} samples); finish or merge them first")
    if not 0 <= val_fraction < 1:
        raise StrataError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    seed = _check_seed(seed)
    w = np.asarray(annotations.w, dtype=np.float64)
    n = w.shape[0]
    k = _top_k(top, n)
    n_val = int(round(val_fraction * k))
    if k - n_val < 1:
        raise StrataError(f"top {k} per class leaves no training samples at val_fraction {val_fraction}")
    specs = annotations.semantics
    if semantics is not None:
        known = {s["name"] for s in specs}
        unknown = [s for s in semantics if s not in known]
        if unknown:
            raise StrataError(f"no scores for {', '.join(map(repr, unknown))}; "
                              f"the annotations have {', '.join(sorted(known))}")
        specs = [s for s in specs if s["name"] in set(semantics)]
    conditions = dict(conditions or {})
    results: list[FittedBoundary] = []
    splits: dict[str, tuple] = {}
    total = len(specs) + len(conditions)
    for i, spec in enumerate(specs):
        if _stopping(should_stop):
            raise Cancelled("fitting stopped; run again to continue (annotations are kept)")
        name = spec["name"]
        _report(progress, i / max(total, 1), f"fitting {name}")
        s = np.asarray(annotations.scores[name], dtype=np.float64)
        order = np.argsort(s, kind="stable")
        neg, pos = order[:k], order[-k:]
        base = dict(name=name, semantic=name, declared_level=spec["level"], kind=spec["kind"], k=k)
        if s[pos].min() <= s[neg].max():
            results.append(FittedBoundary(
                vector=None, note=f"the top and bottom {k} scores overlap "
                f"(scores span {s.min():.3g}..{s.max():.3g}); nothing to separate", **base))
            continue
        rng = np.random.RandomState(seed)
        pos, neg = rng.permutation(pos), rng.permutation(neg)
        train = np.concatenate([pos[n_val:], neg[n_val:]])
        val = np.concatenate([pos[:n_val], neg[:n_val]])
        y_train = np.r_[np.ones(k - n_val), np.zeros(k - n_val)].astype(np.int64)
        y_val = np.r_[np.ones(n_val), np.zeros(n_val)].astype(np.int64)
        centre = w[train].mean(axis=0)
        svm = LinearSVC(C=C, max_iter=max_iter, random_state=seed, dual="auto")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(w[train] - centre, y_train)
        normal = svm.coef_.reshape(-1)
        norm = float(np.linalg.norm(normal))
        if not math.isfinite(norm) or norm == 0.0:
            results.append(FittedBoundary(vector=None, note="the SVM found no direction", **base))
            continue
        acc = float(np.mean(svm.predict(w[val] - centre) == y_val)) if n_val else None
        vector = (normal / norm).astype(np.float32)
        results.append(FittedBoundary(vector=vector, accuracy=acc, n_train=len(train),
                                      n_val=len(val), **base))
        splits[name] = (train, y_train, val, y_val)
    by_name = {r.name: r for r in results}
    for j, (primal, conds) in enumerate(conditions.items()):
        if _stopping(should_stop):
            raise Cancelled("fitting stopped; run again to continue (annotations are kept)")
        conds = tuple(conds)
        name = f"{primal}_cond_{'_'.join(conds)}"
        _report(progress, (len(specs) + j) / max(total, 1), f"conditioning {name}")
        missing = [c for c in (primal, *conds) if c not in by_name]
        if missing:
            raise StrataError(f"conditional boundary {name}: {', '.join(missing)} not fitted")
        ref = by_name[primal]
        base = dict(name=name, semantic=primal, declared_level=ref.declared_level, kind=ref.kind,
                    k=k, conditions=conds)
        unfit = [c for c in (primal, *conds) if not by_name[c].ok]
        if unfit:
            results.append(FittedBoundary(vector=None, note=f"{', '.join(unfit)} has no boundary", **base))
            continue
        vector = condition_boundary(ref.vector, [by_name[c].vector for c in conds])
        train, y_train, val, y_val = splits[primal]
        acc = _threshold_accuracy(w[train] @ vector, y_train, w[val] @ vector, y_val) if n_val else None
        results.append(FittedBoundary(vector=vector.astype(np.float32), accuracy=acc,
                                      n_train=len(train), n_val=len(val), **base))
    _report(progress, 1.0, f"fitted {sum(r.ok for r in results)} of {len(results)} boundaries")
    return results


# --------------------------------------------------------------------------- rescoring


@dataclass(frozen=True)
class LayerResponse:
    """How much a semantic's score rises when one boundary is applied, and how sure that is.

    ``dS[l]`` is ``mean(max(0, S(edited on layer l only) - S(original)))``
    over the rescoring samples; ``dS_all`` the same for an edit on all layers.

    The other fields come from a bootstrap over the rescoring samples
    (:func:`rescore`; ``docs/analysis.md``) and are None when there was none
    (a response cached by an older Strata, fewer than 2 samples, or
    ``resamples=0``): ``dS_se``, ``dS_lo``, ``dS_hi`` are each layer's
    bootstrap standard error and 95% percentile interval, ``dS_all_se``,
    ``dS_all_lo``, ``dS_all_hi`` the same for ``dS_all``;
    ``range_stability`` and ``level_stability`` the share of resamples in
    which :func:`choose_layers` (with ``mass = stability_mass``) gives the
    full sample's range, and :func:`level_of` its level; ``resamples`` is
    how many resamples were drawn (0: none).
    """

    name: str
    semantic: str
    dS: tuple[float, ...]
    dS_all: float
    vector_sha256: str = ""
    dS_se: tuple[float, ...] | None = None
    dS_lo: tuple[float, ...] | None = None
    dS_hi: tuple[float, ...] | None = None
    dS_all_se: float | None = None
    dS_all_lo: float | None = None
    dS_all_hi: float | None = None
    range_stability: float | None = None
    level_stability: float | None = None
    stability_mass: float | None = None
    resamples: int = 0

    def stability_for(self, mass: float) -> tuple[float | None, float | None]:
        """``(range_stability, level_stability)``, or Nones if they were measured for another ``mass``."""
        if self.stability_mass is None or not math.isclose(self.stability_mass, mass):
            return None, None
        return self.range_stability, self.level_stability

    def to_dict(self) -> dict:
        def floats(v):
            return None if v is None else list(v)

        return {"name": self.name, "semantic": self.semantic, "dS": list(self.dS),
                "dS_all": self.dS_all, "vector_sha256": self.vector_sha256,
                "dS_se": floats(self.dS_se), "dS_lo": floats(self.dS_lo), "dS_hi": floats(self.dS_hi),
                "dS_all_se": self.dS_all_se, "dS_all_lo": self.dS_all_lo, "dS_all_hi": self.dS_all_hi,
                "range_stability": self.range_stability, "level_stability": self.level_stability,
                "stability_mass": self.stability_mass, "resamples": self.resamples}

    @classmethod
    def from_dict(cls, d: Mapping) -> LayerResponse:
        """Read :meth:`to_dict` output; a dict without the bootstrap fields (older Strata) gives Nones."""
        dS = tuple(float(v) for v in d["dS"])

        def floats(key):  # a per-layer list, or None when absent or not one value per layer
            v = d.get(key)
            return tuple(float(x) for x in v) if v is not None and len(v) == len(dS) else None

        def number(key):
            v = d.get(key)
            return None if v is None else float(v)

        return cls(name=str(d["name"]), semantic=str(d["semantic"]), dS=dS,
                   dS_all=float(d["dS_all"]), vector_sha256=str(d.get("vector_sha256", "")),
                   dS_se=floats("dS_se"), dS_lo=floats("dS_lo"), dS_hi=floats("dS_hi"),
                   dS_all_se=number("dS_all_se"), dS_all_lo=number("dS_all_lo"),
                   dS_all_hi=number("dS_all_hi"), range_stability=number("range_stability"),
                   level_stability=number("level_stability"),
                   stability_mass=number("stability_mass"), resamples=int(d.get("resamples") or 0))


@dataclass(frozen=True, eq=False)
class Rescoring:
    """The responses of a set of boundaries, and how they were measured."""

    responses: Mapping[str, LayerResponse]
    m: int
    lam: float
    seed: int
    psi: float
    num_layers: int
    layer_resolutions: tuple[int, ...]
    predictor: str = ""

    def __post_init__(self):
        object.__setattr__(self, "responses", MappingProxyType(dict(self.responses)))
        object.__setattr__(self, "layer_resolutions", tuple(int(r) for r in self.layer_resolutions))

    def setup(self) -> dict:
        """Everything but the responses (what a cached response must match)."""
        return {"m": self.m, "lam": self.lam, "seed": self.seed, "psi": self.psi,
                "num_layers": self.num_layers, "layer_resolutions": list(self.layer_resolutions),
                "predictor": self.predictor}

    def to_dict(self) -> dict:
        return {**self.setup(), "responses": [r.to_dict() for r in self.responses.values()]}


def _vector_sha(vector: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).hexdigest()


def _bootstrap(rises: np.ndarray, *, resamples: int, seed: int, mass: float,
               layer_resolutions: Sequence[int] | None) -> dict:
    """Bootstrap over the rescoring samples: :class:`LayerResponse`'s uncertainty fields.

    ``rises`` is float64 ``[m, num_layers + 1]``, column 0 the all-layer
    edit. Resample ``i`` draws ``m`` samples with replacement from
    ``default_rng([seed, 2])``; every boundary of a run gets the same
    resamples (they are measured on the same samples), whatever the order
    or resume point. A resample's mean is ``counts @ rises / m``, ``counts``
    being how often it drew each sample.
    """
    m, variants = rises.shape
    num_layers = variants - 1
    rng = np.random.default_rng([seed, _STREAM_BOOTSTRAP])
    means = np.empty((resamples, variants), dtype=np.float64)
    chunk = max(1, min(resamples, 1_000_000 // m))  # bounds the [chunk, m] index arrays
    for b0 in range(0, resamples, chunk):
        b = min(chunk, resamples - b0)
        idx = rng.integers(0, m, size=(b, m)) + m * np.arange(b)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * m).reshape(b, m)
        means[b0:b0 + b] = counts @ rises / m
    point = rises.sum(axis=0) / m
    se = means.std(axis=0, ddof=1)
    lo, hi = np.percentile(means, [2.5, 97.5], axis=0)
    (first0,), (last0,) = _windows(point[None, 1:], mass)
    first, last = _windows(means[:, 1:], mass)
    level0 = level_of((first0, last0), num_layers, layer_resolutions)
    # At most num_layers * (num_layers + 1) / 2 distinct ranges: ask level_of once for each.
    ranges, which = np.unique(np.stack([first, last], axis=1), axis=0, return_inverse=True)
    same_level = np.array([level_of((a, b), num_layers, layer_resolutions) == level0
                           for a, b in ranges])[which.reshape(-1)]
    return {
        "dS_se": tuple(float(v) for v in se[1:]), "dS_lo": tuple(float(v) for v in lo[1:]),
        "dS_hi": tuple(float(v) for v in hi[1:]), "dS_all_se": float(se[0]),
        "dS_all_lo": float(lo[0]), "dS_all_hi": float(hi[0]),
        "range_stability": float(np.mean((first == first0) & (last == last0))),
        "level_stability": float(np.mean(same_level)),
        "stability_mass": float(mass), "resamples": int(resamples),
    }


def rescore(generator, predictor, boundaries: Sequence[FittedBoundary], *, m: int = 500,
            lam: float = 2.0, seed: int = 0, psi: float | None = None, batch_size: int = 64,
            device=None, previous: Mapping[str, LayerResponse] | None = None,
            on_result: Callable[[LayerResponse], None] | None = None,
            mass: float = DEFAULT_MASS, resamples: int = BOOTSTRAP_RESAMPLES,
            progress: Progress | None = None,
            should_stop: ShouldStop | None = None) -> Rescoring:
    """Measure each boundary's effect on its semantic, on all layers and layer by layer.

    ``m`` fresh codes (stream 1 of ``seed``, so never the annotation's
    samples) are synthesized once at truncation ``psi`` and scored; then for
    every boundary each code is moved by ``+lam`` on all layers and on each
    single layer (``num_layers + 1`` edits, through
    :func:`strata.engine.core.edits.apply_edits` with HiGAN's truncation compensation),
    and the edited images are scored. The edited codes of consecutive
    samples and edits are packed into batches of ``batch_size``, so the
    cost is ``m * (num_layers + 1)`` syntheses per boundary plus ``m``.

    The per-sample rises ``max(0, S_edited - S_orig)`` (``m x (num_layers + 1)``
    per boundary) are kept until the boundary is done, for a bootstrap over
    the ``m`` samples (``resamples`` draws with replacement, seeded from
    ``seed``): each ``dS``'s standard error and 95% percentile interval, and
    how often the resampled profile gives the same layer range
    (:func:`choose_layers` with ``mass``) and level (:func:`level_of`) as
    the whole sample. Only these summaries are kept (:class:`LayerResponse`).
    The bootstrap covers the choice of rescoring samples, not the SVM fit.

    Parameters
    ----------
    boundaries : sequence of FittedBoundary
        Those with no vector are skipped.
    previous : mapping, optional
        ``{name: LayerResponse}`` measured before with the same setup;
        reused when the vector's hash matches (resuming).
    on_result : callable, optional
        Called with each new :class:`LayerResponse` as it is finished.
    mass : float
        :func:`choose_layers`'s share, for the range and level stability.
    resamples : int
        Bootstrap resamples (default :data:`BOOTSTRAP_RESAMPLES`); 0 skips
        the bootstrap. With ``m = 1`` there is nothing to resample and the
        uncertainty fields stay None.

    Returns
    -------
    Rescoring
    """
    seed = _check_seed(seed)
    m, batch_size = int(m), int(batch_size)
    if m < 1:
        raise StrataError(f"rescoring needs at least 1 sample, got {m}")
    if batch_size < 1:
        raise StrataError(f"batch size must be at least 1, got {batch_size}")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
            or resamples < 0 or resamples == 1:
        raise StrataError(f"resamples must be 0 (no bootstrap) or at least 2, got {resamples!r}")
    resamples = int(resamples)
    if not 0 < mass <= 1:
        raise StrataError(f"mass must be in (0, 1], got {mass!r}")
    lam = float(lam)
    if not math.isfinite(lam) or lam == 0:
        raise StrataError(f"lam must be a non-zero finite number, got {lam!r}")
    psi = float(generator.default_psi if psi is None else psi)
    dev = _device_of(generator, device)
    L, D = int(generator.num_layers), int(generator.w_dim)
    trunc = int(generator.truncation_layers)
    known = {s["name"] for s in _semantics_of(predictor)}
    todo, responses = [], {}
    for b in boundaries:
        if not b.ok:
            continue
        if b.semantic not in known:
            raise StrataError(f"boundary {b.name!r} measures {b.semantic!r}, which predictor "
                              f"{predictor.name!r} does not score")
        if b.vector.shape[-1] != D:
            raise StrataError(f"boundary {b.name!r} has dimension {b.vector.shape[-1]} but the "
                              f"model's W space has {D}")
        sha = _vector_sha(b.vector)
        old = (previous or {}).get(b.name)
        if old is not None and old.vector_sha256 == sha and len(old.dS) == L:
            responses[b.name] = old
        else:
            todo.append((b, sha))
    result = dict(responses)
    setup = dict(m=m, lam=lam, seed=seed, psi=psi, num_layers=L,
                 layer_resolutions=tuple(generator.layer_resolutions), predictor=str(predictor.name))
    if not todo:
        _report(progress, 1.0, "rescoring: nothing left to measure")
        return Rescoring(responses=result, **setup)
    names = sorted({b.semantic for b, _ in todo})
    variants = L + 1  # 0: all layers; 1 + l: layer l only
    total = m + len(todo) * m * variants
    done = 0

    def tick(count: int, message: str) -> None:
        nonlocal done
        done += count
        _report(progress, done / total, message)

    with torch.inference_mode():
        z = torch.from_numpy(_codes(seed, _STREAM_RESCORE, 0, m, generator.z_dim)).to(dev)
        wp0 = torch.cat([generator.truncate(generator.mapping(z[i:i + batch_size]), psi)
                         for i in range(0, m, batch_size)])
        base = {name: np.empty(m, dtype=np.float32) for name in names}
        for i in range(0, m, batch_size):
            if _stopping(should_stop):
                raise Cancelled("rescoring stopped; finished boundaries are kept")
            scores = _predict(predictor, generator.synthesize(wp0[i:i + batch_size]), names)
            for name in names:
                base[name][i:i + batch_size] = scores[name]
            tick(min(batch_size, m - i), "rescoring: original samples")
        zero = torch.zeros(1, L, D, dtype=wp0.dtype, device=dev)
        for b, sha in todo:
            ref = Boundary(name=b.name, vector=b.vector)
            edits = [Edit(ref, lam, (0, L - 1))] + [Edit(ref, lam, (l, l)) for l in range(L)]
            # apply_edits(zero) is exactly the step apply_edits(wp0) would add.
            steps = torch.cat([apply_edits(zero, [e], truncation_psi=psi, truncation_layers=trunc)
                               for e in edits])                                 # [V, L, D]
            rises = np.zeros((m, variants), dtype=np.float64)
            s0 = base[b.semantic]
            # Pair p = sample * V + variant, taken batch_size at a time.
            for p0 in range(0, m * variants, batch_size):
                if _stopping(should_stop):
                    raise Cancelled("rescoring stopped; finished boundaries are kept")
                pairs = torch.arange(p0, min(p0 + batch_size, m * variants), device=dev)
                sample, variant = pairs // variants, pairs % variants
                codes = wp0[sample] + steps[variant]
                s = _predict(predictor, generator.synthesize(codes), [b.semantic])[b.semantic]
                sample, variant = sample.cpu().numpy(), variant.cpu().numpy()
                rises[sample, variant] = np.maximum(0.0, s.astype(np.float64) - s0[sample])
                tick(len(pairs), f"rescoring {b.name}")
            gain = rises.sum(axis=0) / m
            spread = _bootstrap(rises, resamples=resamples, seed=seed, mass=mass,
                                layer_resolutions=setup["layer_resolutions"]) \
                if resamples and m > 1 else {}
            resp = LayerResponse(name=b.name, semantic=b.semantic,
                                 dS=tuple(float(v) for v in gain[1:]), dS_all=float(gain[0]),
                                 vector_sha256=sha, **spread)
            result[b.name] = resp
            if on_result is not None:
                on_result(resp)
    ordered = {b.name: result[b.name] for b in boundaries if b.name in result}
    return Rescoring(responses=ordered, **setup)


# --------------------------------------------------------------------------- the hierarchy


def choose_layers(profile: Sequence[float], *, mass: float = DEFAULT_MASS) -> tuple[int, int]:
    """The contiguous layer range holding most of a boundary's response.

    Rule: negative entries count as 0. Among all contiguous windows
    ``first..last`` whose summed ``dS`` is at least ``mass`` (default 60%)
    of the total, take the narrowest; among equally narrow ones, the one
    with the larger sum; among equal sums, the earliest. A profile with no
    response at all (total 0) gives all layers.

    Parameters
    ----------
    profile : sequence of float
        ``dS`` per layer.
    mass : float
        Share of the total the window must hold, in (0, 1].

    Returns
    -------
    (int, int)
        Inclusive ``(first, last)``.
    """
    p = np.asarray(profile, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ValueError("profile is empty")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass!r}")
    (first,), (last,) = _windows(p[None], mass)
    return int(first), int(last)


def _windows(profiles: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`choose_layers`'s rule on every row of ``[rows, num_layers]``: ``(first, last)`` arrays.

    One implementation for the single profile and for the bootstrap's
    resampled ones, so that "same range" means exactly the same rule.
    """
    p = np.clip(profiles, 0.0, None)
    p = np.where(np.isfinite(p), p, 0.0)
    rows, num_layers = p.shape
    first = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, num_layers - 1, dtype=np.int64)  # no response at all: all layers
    total = p.sum(axis=1)
    open_ = total > 0
    target = mass * total * (1 - 1e-9)  # rounding must not push the full window below target
    cs = np.concatenate([np.zeros((rows, 1)), np.cumsum(p, axis=1)], axis=1)
    at = np.arange(rows)
    for width in range(1, num_layers + 1):
        if not open_.any():
            break
        sums = cs[:, width:] - cs[:, :-width]
        best = np.argmax(sums, axis=1)  # the larger sum; among equal sums the earliest
        hit = open_ & (sums[at, best] >= target)
        first[hit], last[hit] = best[hit], best[hit] + width - 1
        open_ &= ~hit
    return first, last


def _layer_positions(num_layers: int, layer_resolutions: Sequence[int] | None) -> np.ndarray:
    """Each layer's place in the synthesis, in (0, 1): by resolution when known, else by index."""
    if layer_resolutions is None:
        return (np.arange(num_layers) + 0.5) / num_layers
    res = np.log2(np.asarray(layer_resolutions, dtype=np.float64))
    lo, hi = res.min(), res.max()
    return (res - lo + 0.5) / (hi - lo + 1)


def level_of(layers: tuple[int, int], num_layers: int,
             layer_resolutions: Sequence[int] | None = None) -> str:
    """The level (layout, object, attribute, colour) of a layer range, by where it sits.

    Each layer gets a position ``f`` in (0, 1): with ``layer_resolutions``,
    ``f = (log2(res) - log2(res_min) + 0.5) / (log2(res_max) - log2(res_min) + 1)``,
    so the two layers of one resolution share a position and the
    resolutions split (0, 1) evenly; without, ``f = (l + 0.5) / num_layers``.
    The range's position is the mean ``f`` of its layers, and the level is
    layout below 0.25, object below 0.55, attribute below 0.85, colour from
    0.85 on (:data:`LEVEL_THRESHOLDS`).

    For a 10-layer 64 px StyleGAN (resolutions 4..64) that gives: 4 px
    (layers 0-1) layout, 8 and 16 px (2-5) object, 32 px (6-7) attribute,
    64 px (8-9) colour. For HiGAN's 14-layer 256 px models: 4-8 px (0-3)
    layout, 16-32 px (4-7) object, 64-128 px (8-11) attribute, 256 px
    (12-13) colour; a range over 6-11 is attribute, as in HiGAN.
    """
    first, last = (int(v) for v in layers)
    num_layers = int(num_layers)
    if not 0 <= first <= last < num_layers:
        raise ValueError(f"layers {first}-{last} are outside 0-{num_layers - 1}")
    if layer_resolutions is not None and len(layer_resolutions) != num_layers:
        raise ValueError(f"{len(layer_resolutions)} layer resolutions for {num_layers} layers")
    f = float(_layer_positions(num_layers, layer_resolutions)[first:last + 1].mean())
    for level, below in LEVEL_THRESHOLDS:
        if f < below:
            return level
    return LEVEL_THRESHOLDS[-1][0]


# The bootstrap summaries a library row and a boundary's extra carry.
_UNCERTAINTY = ("dS_se", "dS_lo", "dS_hi", "dS_all_se", "dS_all_lo", "dS_all_hi",
                "range_stability", "level_stability")


def _uncertainty(resp: LayerResponse, mass: float) -> dict:
    """``_UNCERTAINTY`` of a response as JSON values (None where not measured, or not for ``mass``)."""
    range_stability, level_stability = resp.stability_for(mass)
    out = {key: getattr(resp, key) for key in _UNCERTAINTY}
    out.update(range_stability=range_stability, level_stability=level_stability)
    return {key: list(v) if isinstance(v, tuple) else v for key, v in out.items()}


def _safe_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "boundary"


def write_library(boundaries: Sequence[FittedBoundary], rescoring: Rescoring,
                  out_dir: str | os.PathLike, *, model_fingerprint: str | None, command: str = "",
                  mass: float = DEFAULT_MASS) -> dict:
    """Save the fitted boundaries and the hierarchy report into ``out_dir``.

    Writes ``<name>.npz`` for every boundary that was fitted and rescored
    (:func:`strata.engine.core.boundary.save_boundary`; ``level`` and ``layers`` from
    :func:`level_of` / :func:`choose_layers`, ``extra`` holding ``dS``,
    ``dS_all``, ``declared_level``, ``semantic`` and how it was measured),
    and ``hierarchy.json``, ``hierarchy.md`` and ``hierarchy.png``. Every
    file is written atomically.

    Where the response carries the rescoring bootstrap (:func:`rescore`),
    ``extra`` and the report also hold ``dS_se``, ``dS_lo``, ``dS_hi``
    (and the ``dS_all_*`` three), ``range_stability`` and
    ``level_stability``; the two stabilities only when they were measured
    with this ``mass``. Without it (a response cached by an older Strata)
    the report leaves the uncertainty out.

    Returns
    -------
    dict
        The contents of ``hierarchy.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L, res = rescoring.num_layers, rescoring.layer_resolutions
    earlier = _library_files(out)
    rows = []
    for fb in boundaries:
        row = {"name": fb.name, "semantic": fb.semantic, "declared_level": fb.declared_level,
               "kind": fb.kind, "accuracy": fb.accuracy, "k": fb.k,
               "conditions": list(fb.conditions), "found_level": None, "layers": None,
               "agrees": None, "dS": None, "dS_all": None, **dict.fromkeys(_UNCERTAINTY),
               "resamples": 0, "file": None, "note": fb.note}
        resp = rescoring.responses.get(fb.name)
        if fb.ok and resp is None:
            row["note"] = "not rescored"
        if fb.ok and resp is not None:
            layers = choose_layers(resp.dS, mass=mass)
            found = level_of(layers, L, res)
            file = _safe_file_name(fb.name) + ".npz"
            spread = _uncertainty(resp, mass)
            extra = {"semantic": fb.semantic, "declared_level": fb.declared_level, "kind": fb.kind,
                     "dS": list(resp.dS), "dS_all": resp.dS_all, "k": fb.k,
                     "conditions": list(fb.conditions), "rescore": rescoring.setup(),
                     **{key: v for key, v in spread.items() if v is not None}}
            boundary = Boundary(name=fb.name, vector=fb.vector, level=found, layers=layers,
                                provenance=f"Strata semantic discovery{': ' + command if command else ''}",
                                model_fingerprint=model_fingerprint, accuracy=fb.accuracy, extra=extra)
            save_boundary(boundary, out / file)
            row.update(found_level=found, layers=list(layers), dS=list(resp.dS), dS_all=resp.dS_all,
                       file=file, agrees=found == fb.declared_level if fb.declared_level != "unknown" else None,
                       **spread, resamples=resp.resamples)
        rows.append(row)
    report = {
        "format": HIERARCHY_FORMAT, "version": 1, "model_fingerprint": model_fingerprint,
        "command": command, **rescoring.setup(),
        "rule": {"mass": mass, "window": "narrowest contiguous window holding >= mass of the total dS; "
                 "ties: larger sum, then earliest",
                 "level_thresholds": [[lv, None if math.isinf(t) else t] for lv, t in LEVEL_THRESHOLDS]},
        "uncertainty": "bootstrap over the m rescoring samples (resamples per row): dS_se standard "
                       "error, dS_lo..dS_hi 95% percentile interval, range_stability / "
                       "level_stability share of resamples giving the same layers / level; "
                       "the SVM fit's own variance is not included",
        "semantics": rows,
    }
    atomic_write_bytes(out / "hierarchy.json",
                       json.dumps(report, indent=1, allow_nan=False).encode("utf-8"))
    # A boundary this library held before but no longer finds (a condition
    # dropped, a semantic that stopped separating) must not linger beside
    # the new report; only files the previous report named are removed.
    for stale in earlier - {r["file"] for r in rows if r["file"]}:
        try:
            (out / stale).unlink()
        except OSError:
            pass
    atomic_write_bytes(out / "hierarchy.md", hierarchy_markdown(report).encode("utf-8"))
    with atomic_open(out / "hierarchy.png", "wb") as fh:
        hierarchy_image(report).save(fh, format="PNG")
    return report


def _library_files(folder: Path) -> set[str]:
    """Boundary files named by the ``hierarchy.json`` already in ``folder``."""
    try:
        data = json.loads((folder / "hierarchy.json").read_text(encoding="utf-8"))
        if data.get("format") != HIERARCHY_FORMAT:
            return set()
        return {r["file"] for r in data["semantics"]
                if isinstance(r.get("file"), str) and r["file"] == Path(r["file"]).name
                and r["file"].endswith(".npz")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


# --------------------------------------------------------------------------- the whole pipeline


def load_predictor(predictor, device=None):
    """A predictor by registered name (:mod:`strata.engine.rooms.predictor`, imported only here), or as given.

    A predictor with a ``to`` method (a torch module) is moved to ``device``.

    Raises
    ------
    StrataError
        No predictor of that name.
    """
    if not isinstance(predictor, str):
        return predictor
    import importlib.util

    if importlib.util.find_spec(f"{__package__}.predictors") is None:
        raise StrataError(f"predictor {predictor!r}: this installation has no predictors "
                          "(strata.engine.rooms.predictor is missing)")
    from strata.engine.rooms import predictor as registry  # lazily: only runs that name a predictor need it

    try:
        pred = registry.get_predictor(predictor)
    except KeyError:
        names = ", ".join(registry.available_predictors())
        raise StrataError(f"unknown predictor {predictor!r}; available: {names}") from None
    to = getattr(pred, "to", None)
    if callable(to) and device is not None:
        pred = to(device) or pred
    return pred


def _read_rescore_cache(path: Path, setup: Mapping) -> dict[str, LayerResponse]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("setup") != json.loads(json.dumps(dict(setup))):
            return {}
        return {d["name"]: LayerResponse.from_dict(d) for d in data.get("responses", ())}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def run_discovery(model_path: str | os.PathLike, *, predictor="rooms", n: int | None = 10000,
                  m: int = 500, lam: float = 2.0, k: float | int = 0.02, seed: int = 0,
                  psi: float | None = None, out_dir: str | os.PathLike, batch_size: int = 64,
                  device=None, val_fraction: float = 0.3,
                  conditions: Mapping[str, Sequence[str]] | None = None, mass: float = DEFAULT_MASS,
                  command: str = "", checkpoint_seconds: float = 60.0,
                  progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> dict:
    """The whole pipeline, resumably: annotate, fit, rescore, write the library.

    Layout of ``out_dir``: ``annotations.npz`` (resumed if partial, reused
    if finished), ``rescore.json`` (finished responses, reused when the
    setup and vectors match), and ``boundaries/`` (the library written by
    :func:`write_library`). Running the same call again after a stop or a
    crash continues where it was.

    Parameters
    ----------
    model_path : path
        Generator file (:func:`strata.engine.core.models.load_generator`).
    predictor : str or predictor
        A registered name (:mod:`strata.engine.rooms.predictor`) or an object.
    n : int or None
        Annotation samples; None uses whatever ``annotations.npz`` holds
        (e.g. a merged sharded run). If the file exists it must match
        ``n`` and ``seed``; its own batch size is kept, and so is its psi
        unless ``psi`` is given.
    m, lam
        Rescoring samples and step (HiGAN: 500 and 2).
    k : int or float
        Positives and negatives per semantic, count or fraction (HiGAN: 2%).
    seed : int
        Run seed (annotation codes, split, rescoring codes).
    psi : float, optional
        Truncation for synthesis; default the model's.
    out_dir : path
    batch_size : int
    device : optional
        Default CUDA when present.
    val_fraction, conditions, mass
        See :func:`fit_boundaries` and :func:`choose_layers`.
    command : str
        Recorded in the library's provenance.
    progress, should_stop
        Callbacks for the whole run.

    Returns
    -------
    dict
        ``out_dir``, ``annotations``, ``library``, ``n``, ``m``, ``seconds``
        per stage, ``images_per_second`` and ``boundaries`` (one row per
        semantic: name, declared and found level, layers, accuracy, dS_all,
        range_stability, level_stability; the last two None when not measured).
    """
    from strata.engine.core.device import resolve_device
    from strata.engine.core.models import load_generator

    t_start = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StrataError(f"cannot create {out}: {exc.strerror or exc}") from None
    dev = resolve_device(device)
    model = load_generator(model_path, dev)
    g = model.generator
    pred = load_predictor(predictor, dev)
    specs = _semantics_of(pred)
    L = int(g.num_layers)
    ann_path = out / ANNOTATIONS_FILE
    ann_batch = batch_size
    ann_before = 0  # samples already on disk: not counted in the throughput
    if ann_path.exists():
        prev = load_annotations(ann_path)
        ann_before = prev.count
        if n is None:
            n, seed_ann = int(prev.meta["n_total"]), int(prev.meta["seed"])
        else:
            seed_ann = seed
            if (prev.meta.get("n_total"), prev.meta.get("seed")) != (n, seed):
                raise StrataError(f"{ann_path} holds a run of {prev.meta.get('n_total')} samples with "
                                  f"seed {prev.meta.get('seed')}, not {n} with seed {seed}; pass "
                                  "the same -n/--seed, or write to another folder")
        ann_batch = int(prev.meta.get("batch_size", batch_size))
        if psi is None:
            psi = float(prev.meta["psi"])
    elif n is None:
        raise StrataError(f"{ann_path} does not exist; give the number of samples (-n) or merge shards")
    else:
        seed_ann = seed
    n_conditional = len(conditions or {})
    # Split the bar by the syntheses each stage costs.
    cost_ann = float(n)
    cost_res = float(m + (len(specs) + n_conditional) * m * (L + 1))
    total = cost_ann + cost_res
    a_end = 0.97 * cost_ann / total
    f_end = a_end + 0.01
    r_end = 0.99

    def stage(lo: float, hi: float) -> Progress | None:
        if progress is None:
            return None
        return lambda f, msg: progress(lo + (hi - lo) * f, msg)

    t0 = time.perf_counter()
    ann = sample_and_annotate(g, pred, n, seed=seed_ann, psi=psi, batch_size=ann_batch,
                              out_path=ann_path, model_fingerprint=model.fingerprint, device=dev,
                              checkpoint_seconds=checkpoint_seconds, progress=stage(0.0, a_end),
                              should_stop=should_stop)
    t_ann = time.perf_counter() - t0
    psi = float(ann.meta["psi"])
    t0 = time.perf_counter()
    fitted = fit_boundaries(ann, top=k, val_fraction=val_fraction, conditions=conditions, seed=seed,
                            progress=stage(a_end, f_end), should_stop=should_stop)
    t_fit = time.perf_counter() - t0
    cache_path = out / RESCORE_CACHE
    setup = {"model_fingerprint": model.fingerprint, "predictor": str(pred.name), "m": int(m),
             "lam": float(lam), "seed": int(seed), "psi": psi, "num_layers": L}
    cached = _read_rescore_cache(cache_path, setup)
    finished = dict(cached)

    def keep(resp: LayerResponse) -> None:
        finished[resp.name] = resp
        data = {"setup": setup, "responses": [r.to_dict() for r in finished.values()]}
        atomic_write_bytes(cache_path, json.dumps(data, indent=1).encode("utf-8"))

    t0 = time.perf_counter()
    rescoring = rescore(g, pred, fitted, m=m, lam=lam, seed=seed, psi=psi, batch_size=batch_size,
                        device=dev, previous=cached, on_result=keep, mass=mass,
                        progress=stage(f_end, r_end), should_stop=should_stop)
    t_res = time.perf_counter() - t0
    library = out / LIBRARY_DIR
    report = write_library(fitted, rescoring, library, model_fingerprint=model.fingerprint,
                           command=command, mass=mass)
    _report(progress, 1.0, f"wrote {sum(r['file'] is not None for r in report['semantics'])} "
            f"boundaries to {library}")
    rescored = sum(1 for b in fitted if b.ok and b.name not in cached)
    images = (ann.count - ann_before) + (m + rescored * m * (L + 1) if rescored else 0)
    return {
        "out_dir": str(out), "annotations": str(ann_path), "library": str(library),
        "n": int(n), "m": int(m), "psi": psi, "device": str(dev),
        "seconds": {"annotate": t_ann, "fit": t_fit, "rescore": t_res,
                    "total": time.perf_counter() - t_start},
        "images_per_second": images / max(t_ann + t_res, 1e-9),
        "boundaries": [{k_: r[k_] for k_ in ("name", "declared_level", "found_level", "layers",
                                              "accuracy", "dS_all", "range_stability",
                                              "level_stability", "note")}
                       for r in report["semantics"]],
    }
