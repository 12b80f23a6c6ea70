"""Step 1 of HiGAN's pipeline: sample codes, synthesize scenes and score them with a predictor.

:func:`sample_and_annotate` writes one run (or one shard of it, see
:func:`shard_range`) to an ``.npz`` file, resumably; :func:`merge_annotations`
joins the shards into the file a single run would have written, bit for
bit. The file format is described in ``docs/analysis.md``.

A predictor has ``name``, ``semantics`` (records with ``name``, ``level``,
``kind`` = ``"continuous"`` or ``"binary"``, ``doc``), ``input_resolution``
and ``predict(images) -> {semantic: tensor [n]}`` for images ``[n, 3, H, W]``
in [-1, 1] (:class:`strata.engine.discovery.predictors.Predictor`). Images
are clamped to [-1, 1] and, when ``input_resolution`` differs from the
generator's, resized (bilinear, antialiased) before ``predict``. Binary
semantics are scored by their predicted probability.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from strata.engine.core.atomic import atomic_open
from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Cancelled, Progress, ShouldStop, report, stopping
from strata.engine.discovery._common import (CODES, STREAM_ANNOTATE, check_seed, device_of, draw_codes,
                                             predict_scores, semantics_of)

__all__ = [
    "ANNOTATIONS_FILE",
    "Annotations",
    "load_annotations",
    "merge_annotations",
    "sample_and_annotate",
    "shard_file_name",
    "shard_range",
]

ANNOTATIONS_FILE = "annotations.npz"
ANNOTATIONS_FORMAT = "strata-annotations"
ANNOTATIONS_VERSION = 1

# Fields that must agree for two annotation files to belong to one run.
_RUN_KEYS = ("format", "version", "codes", "model_fingerprint", "seed", "psi", "predictor",
             "semantics", "n_total", "batch_size", "z_dim", "w_dim", "num_layers")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so one run always writes the same bytes


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
        Callbacks; stopping saves what is done and raises :class:`~strata.engine.core.jobs.Cancelled`.

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
    seed = check_seed(seed)
    start, stop = shard_range(n, batch_size, shard)
    dev = device_of(generator, device)
    psi = float(generator.default_psi if psi is None else psi)
    if not math.isfinite(psi):
        raise StrataError(f"truncation psi must be a finite number, got {psi!r}")
    semantics = semantics_of(predictor)
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
            report(progress, 1.0, f"annotations already complete ({size} samples)")
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
    report(progress, count / size if size else 1.0,
            f"annotating: {count}/{size} samples" + (" (resumed)" if count else ""))
    try:
        with torch.inference_mode():
            while count < size:
                if stopping(should_stop):
                    raise Cancelled(f"annotation stopped at {count} of {size} samples; "
                                    "run the same command again to continue")
                lo, hi = start + count, min(start + count + batch_size, stop)
                z = draw_codes(seed, STREAM_ANNOTATE, lo, hi, meta["z_dim"])
                w = generator.mapping(torch.from_numpy(z).to(dev))
                images = generator.synthesize(generator.truncate(w, psi))
                scores = predict_scores(predictor, images, names)
                rows = slice(count, count + (hi - lo))
                z_all[rows] = z
                w_all[rows] = w.float().cpu().numpy()
                for name in names:
                    s_all[name][rows] = scores[name]
                count += hi - lo
                report(progress, count / size, f"annotating: {count}/{size} samples")
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
