"""Semantic boundaries: unit normals of linear decision boundaries in W.

Moving a code ``w`` along a boundary's normal ``n`` by ``strength`` changes the
semantic the boundary separates (more or less wood, lighter or darker room).
HiGAN attaches to each boundary the *level* it acts on and the layers where
editing it works best.

Files
-----
``.npy`` (HiGAN's release), either
    a pickled dict ``{'boundary': [1, 512], 'meta_data': {'type': 'attribute',
    'manipulate_layers': '6-11'}}`` read with a restricted unpickler
    (:mod:`strata.engine.core._safe_pickle`), or a plain ``[1, 512]`` array with no metadata.
``.npz`` (Strata's own)
    arrays ``vector`` (float32) and ``meta`` (UTF-8 JSON bytes as uint8), so
    reading it never needs pickle.

Public API
----------
LEVELS : tuple of str
    Level keys, coarse to fine, ``"unknown"`` last.
Boundary
    A frozen record: name, unit vector(s), level, default layers, provenance.
load_boundary(path) -> Boundary
load_boundaries(path_or_folder, *, recursive=False) -> (list[Boundary], list[str])
save_boundary(boundary, path)
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np

from strata.engine.core import limits
from strata.engine.core._safe_pickle import safe_load_npy
from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.errors import BoundaryError, SaveError

__all__ = ["LEVELS", "Boundary", "load_boundaries", "load_boundary", "save_boundary"]

LEVELS: tuple[str, ...] = ("layout", "object", "attribute", "colour", "unknown")

FORMAT = "strata-boundary"
FORMAT_VERSION = 1

# HiGAN's ``meta_data['type']`` values (and spellings seen elsewhere) -> level.
_HIGAN_TYPES = {
    "layout": "layout",
    "scene": "layout",
    "object": "object",
    "attribute": "attribute",
    "color": "colour",
    "colour": "colour",
}

# A vector whose norm is this close to 1 is kept bit for bit: normalising it
# again could flip last bits and so change its fingerprint on every save.
_UNIT_TOL = 1e-6


def _unit_rows(vector, what: str) -> np.ndarray:
    """``vector`` as a read-only float32 ``[D]`` or ``[L, D]`` array of unit rows."""
    try:
        arr = np.asarray(vector)
    except Exception as exc:
        raise BoundaryError(f"{what}: vector is not an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)
                                   or np.issubdtype(arr.dtype, np.integer)):
        raise BoundaryError(f"{what}: vector has dtype {arr.dtype}, expected real numbers")
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
        raise BoundaryError(f"{what}: vector has shape {list(arr.shape)}, expected [w_dim] "
                            "or [num_layers, w_dim]")
    wide = arr.astype(np.float64)
    if not np.all(np.isfinite(wide)):
        raise BoundaryError(f"{what}: vector holds NaN or infinite values")
    norms = np.linalg.norm(wide, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise BoundaryError(f"{what}: vector has zero length, so it has no direction")
    if arr.dtype == np.float32 and np.all(np.abs(norms - 1.0) <= _UNIT_TOL):
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
    else:
        out = np.ascontiguousarray(wide / norms, dtype=np.float32)
    out.flags.writeable = False
    return out


def check_layer_range(layers, what: str, error: type[Exception] = BoundaryError) -> tuple[int, int]:
    """``layers`` as an inclusive ``(first, last)`` pair of ints with 0 <= first <= last,
    else ``error`` naming ``what``. Shared by boundaries and edits."""
    try:
        first, last = layers
        if any(isinstance(i, bool) or i != int(i) for i in (first, last)):
            raise ValueError
        first, last = int(first), int(last)
    except (TypeError, ValueError):
        raise error(f"{what}: layers must be a (first, last) pair of integers, "
                    f"got {layers!r}") from None
    if first < 0 or last < first:
        raise error(f"{what}: layer range {first}-{last} is not valid "
                    "(need 0 <= first <= last)")
    if last > limits.LAYER_MAX:
        raise error(f"{what}: layer {last} is past the limit of {limits.LAYER_MAX}")
    return first, last


def _check_layers(layers, what: str) -> tuple[int, int] | None:
    return None if layers is None else check_layer_range(layers, what)


def _layers_text(layers: tuple[int, int] | None) -> str:
    return "all" if layers is None else f"{layers[0]}-{layers[1]}"


@dataclass(frozen=True, eq=False)
class Boundary:
    """A semantic boundary in W (or one direction per layer in W+).

    Parameters
    ----------
    name : str
        Short name shown to the user (``"wood"``).
    vector : numpy.ndarray
        ``[w_dim]`` or ``[num_layers, w_dim]``; stored as a read-only float32
        copy with every row scaled to unit L2 norm. ``[1, w_dim]`` is taken as
        ``[w_dim]``.
    level : str
        One of :data:`LEVELS`.
    layers : (int, int) or None
        Default inclusive layer range ``(first, last)``; None means all layers.
    provenance : str
        Where it came from: a file path, or how it was fitted.
    model_fingerprint : str or None
        Fingerprint of the generator it was found for, when known.
    accuracy : float or None
        Validation accuracy of the classifier that defined it, when known.
    extra : Mapping
        Further JSON-able metadata (e.g. ``{"dS": [...]}``).

    Raises
    ------
    BoundaryError
        A vector with a bad shape, non-finite values or zero length, an
        unknown level, or a bad layer range.
    """

    name: str
    vector: np.ndarray
    level: str = "unknown"
    layers: tuple[int, int] | None = None
    provenance: str = ""
    model_fingerprint: str | None = None
    accuracy: float | None = None
    extra: Mapping = field(default_factory=dict)

    def __post_init__(self):
        what = f"boundary {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise BoundaryError(f"boundary name must be a non-empty string, got {self.name!r}")
        if self.level not in LEVELS:
            raise BoundaryError(f"{what}: level {self.level!r} is not one of {', '.join(LEVELS)}")
        set_ = object.__setattr__  # frozen: only here, while building
        set_(self, "vector", _unit_rows(self.vector, what))
        set_(self, "layers", _check_layers(self.layers, what))
        if self.layerwise and self.layers is not None and self.layers[1] >= self.vector.shape[0]:
            raise BoundaryError(f"{what}: default layers {_layers_text(self.layers)} go past its "
                                f"{self.vector.shape[0]} per-layer directions")
        if self.accuracy is not None:
            acc = float(self.accuracy)
            if not math.isfinite(acc):
                raise BoundaryError(f"{what}: accuracy {self.accuracy!r} is not a finite number")
            set_(self, "accuracy", acc)
        set_(self, "provenance", str(self.provenance))
        set_(self, "extra", MappingProxyType(dict(self.extra)))

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.vector.shape)
        return (f"Boundary(name={self.name!r}, level={self.level!r}, "
                f"layers={_layers_text(self.layers)}, vector={shape})")

    @property
    def w_dim(self) -> int:
        """Dimension of the W space the boundary lives in."""
        return int(self.vector.shape[-1])

    @property
    def layerwise(self) -> bool:
        """True when the boundary holds one direction per layer (W+)."""
        return self.vector.ndim == 2

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the float32 C-order vector bytes followed by the UTF-8 name."""
        h = hashlib.sha256()
        h.update(self.vector.tobytes(order="C"))
        h.update(self.name.encode("utf-8"))
        return h.hexdigest()

    def vector_for_layer(self, layer: int) -> np.ndarray:
        """The unit direction to move along on ``layer`` (``[w_dim]``, read-only)."""
        layer = int(layer)
        if layer < 0:
            raise ValueError(f"boundary {self.name!r}: layer {layer} is negative")
        if not self.layerwise:
            return self.vector
        if layer >= self.vector.shape[0]:
            raise ValueError(f"boundary {self.name!r}: layer {layer} is past its "
                             f"{self.vector.shape[0]} per-layer directions")
        return self.vector[layer]

    def check_compatible(self, *, w_dim: int, num_layers: int, source: str = "") -> None:
        """Raise :class:`BoundaryError` unless the boundary's directions fit a model.

        This is the one boundary-to-model check; an edit adds its layer range
        to it in :meth:`strata.engine.core.edits.Edit.check_fits`, which
        :func:`strata.engine.core.edits.apply_edits` runs on every edit. The
        default ``layers`` are not checked: an edit chooses its own range, and
        :meth:`strata.engine.core.edits.Edit.with_default_layers` clips the
        default to the model.

        Parameters
        ----------
        w_dim, num_layers : int
            The model's W dimension and number of W+ layers.
        source : str
            How to name the boundary in the message (e.g. its file name);
            defaults to ``boundary '<name>'``.
        """
        label = source or f"boundary {self.name!r}"
        if self.w_dim != w_dim:
            raise BoundaryError(f"{label}: boundary has dimension {self.w_dim} but the model's "
                                f"W space has {w_dim}")
        if self.layerwise and self.vector.shape[0] != num_layers:
            raise BoundaryError(f"{label}: boundary has {self.vector.shape[0]} per-layer directions "
                                f"but the model has {num_layers} layers")

    def to_dict(self) -> dict:
        """JSON-able metadata (everything but the vector itself)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "level": self.level,
            "layers": None if self.layers is None else list(self.layers),
            "provenance": self.provenance,
            "model_fingerprint": self.model_fingerprint,
            "accuracy": self.accuracy,
            "extra": dict(self.extra),
            "shape": list(self.vector.shape),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, meta: Mapping, vector, *, source: str = "") -> Boundary:
        """Rebuild a boundary from :meth:`to_dict` output and its vector.

        Raises
        ------
        BoundaryError
            Missing or malformed fields, a newer format version, or a vector
            that does not match the recorded shape or fingerprint.
        """
        label = source or "boundary metadata"
        if not isinstance(meta, Mapping):
            raise BoundaryError(f"{label}: metadata is a {type(meta).__name__}, not a mapping")
        version = meta.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BoundaryError(f"{label}: boundary format version {version!r} is newer than this "
                                f"Strata reads ({FORMAT_VERSION}); update Strata")
        if "name" not in meta:
            raise BoundaryError(f"{label}: metadata has no 'name'")
        extra = meta.get("extra") or {}
        if not isinstance(extra, Mapping):
            raise BoundaryError(f"{label}: 'extra' is a {type(extra).__name__}, not a mapping")
        try:
            boundary = cls(
                name=meta["name"],
                vector=vector,
                level=meta.get("level", "unknown"),
                layers=meta.get("layers"),
                provenance=meta.get("provenance", ""),
                model_fingerprint=meta.get("model_fingerprint"),
                accuracy=meta.get("accuracy"),
                extra=extra,
            )
        except BoundaryError as exc:
            if not source:
                raise
            raise BoundaryError(f"{label}: {_strip_label(exc)}") from None
        except (TypeError, ValueError) as exc:
            raise BoundaryError(f"{label}: bad metadata ({exc})") from None
        shape = meta.get("shape")
        if shape is not None and (not isinstance(shape, list) or shape != list(boundary.vector.shape)):
            raise BoundaryError(f"{label}: vector has shape {list(boundary.vector.shape)} but the "
                                f"metadata records {str(shape)[:40]}")
        recorded = meta.get("fingerprint")
        if recorded is not None and recorded != boundary.fingerprint:
            raise BoundaryError(f"{label}: vector does not match its recorded fingerprint "
                                "(the file was changed or damaged)")
        return boundary


# --- HiGAN .npy ------------------------------------------------------------

def _parse_higan_layers(value, what: str) -> tuple[int, int] | None:
    """HiGAN's ``manipulate_layers`` ('6-11', '6', '6,7,8', [6, 7]) as (min, max).

    A non-contiguous selection becomes the range that spans it, since an
    edit here acts on one inclusive range.
    """
    if value is None:
        return None
    indices: list[int] = []
    try:
        if isinstance(value, (bytes, np.bytes_)):
            value = value.decode("ascii")
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("", "all"):
                return None
            for part in text.split(","):
                part = part.strip()
                if not part:
                    continue
                m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
                if m is None:
                    raise ValueError
                lo = int(m.group(1))
                hi = int(m.group(2)) if m.group(2) is not None else lo
                if hi < lo:
                    raise ValueError
                indices += [lo, hi]
        else:
            items = np.asarray(value).reshape(-1)
            if items.size and not np.issubdtype(items.dtype, np.integer):
                raise ValueError
            indices = [int(i) for i in items]
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BoundaryError(f"{what}: cannot read its layers {value!r} "
                            "(expected e.g. '6-11', '6,7,8' or a list of integers)") from None
    if not indices:
        return None
    if min(indices) < 0:
        raise BoundaryError(f"{what}: its layers {value!r} include a negative layer")
    return min(indices), max(indices)


def _boundary_name(path: Path) -> str:
    stem = path.stem
    if stem.endswith("_boundary") and len(stem) > len("_boundary"):
        stem = stem[: -len("_boundary")]
    return stem


def _layerwise_shape(arr: np.ndarray) -> np.ndarray:
    # [1, L, D] -> [L, D]; [1, D] stays for _unit_rows to squeeze.
    if arr.ndim == 3 and arr.shape[0] == 1:
        return arr[0]
    return arr


def _load_higan(path: Path) -> Boundary:
    label = str(path)
    obj = safe_load_npy(path)
    level, layers = "unknown", None
    if isinstance(obj, Mapping):
        if "boundary" not in obj:
            keys = ", ".join(repr(k) for k in list(obj)[:8])
            raise BoundaryError(f"{label}: not a boundary file (a dict with keys {keys}, "
                                "but no 'boundary')")
        vector = obj["boundary"]
        meta = obj.get("meta_data") or {}
        if not isinstance(meta, Mapping):
            raise BoundaryError(f"{label}: 'meta_data' is a {type(meta).__name__}, not a dict")
        kind = meta.get("type")
        if isinstance(kind, str):
            level = _HIGAN_TYPES.get(kind.strip().lower(), "unknown")
        layers = _parse_higan_layers(meta.get("manipulate_layers"), label)
    elif isinstance(obj, np.ndarray):
        vector = obj
    else:
        raise BoundaryError(f"{label}: not a boundary file (holds a {type(obj).__name__}, "
                            "not an array)")
    if not isinstance(vector, np.ndarray):
        raise BoundaryError(f"{label}: not a boundary file ('boundary' is a "
                            f"{type(vector).__name__}, not an array)")
    try:
        return Boundary(name=_boundary_name(path), vector=_layerwise_shape(vector), level=level,
                        layers=layers, provenance=label)
    except BoundaryError as exc:
        raise BoundaryError(f"{label}: {_strip_label(exc)}") from None


def _strip_label(exc: BoundaryError) -> str:
    # "boundary 'wood': vector ..." -> "vector ..." when re-labelled with a path.
    text = str(exc)
    m = re.match(r"boundary '[^']*': ", text)
    return text[m.end():] if m else text


# --- Strata .npz -----------------------------------------------------------

def _npz_member(zf: zipfile.ZipFile, name: str, label: str) -> np.ndarray:
    """One array of a ``.npz``, its size and header checked before anything is allocated."""
    info = zf.getinfo(name + ".npy")
    limit = limits.MAX_FILE_BYTES["boundary"]
    if info.file_size > limit:
        raise BoundaryError(f"{label}: array {name!r} is {limits.human_bytes(info.file_size)}, over the "
                            f"{limits.human_bytes(limit)} limit for a boundary file")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)  # the recorded size may lie; never read past the limit
    if len(data) > limit:
        raise BoundaryError(f"{label}: array {name!r} is over the {limits.human_bytes(limit)} limit")
    buf = io.BytesIO(data)
    header = limits.read_npy_header(buf, f"{label}: array {name!r}", BoundaryError, file_size=len(data),
                                    what=".npy")
    if header.dtype.hasobject:
        raise BoundaryError(f"{label}: array {name!r} holds Python objects; a Strata boundary file "
                            "never does (refused, nothing was unpickled)")
    arr = np.frombuffer(data, dtype=header.dtype, count=header.count, offset=header.data_offset)
    return arr.reshape(header.shape, order="F" if header.fortran_order else "C").copy(order="C")


def _load_npz(path: Path) -> Boundary:
    label = str(path)
    with limits.open_regular(path, "boundary", BoundaryError) as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
                if not {"vector", "meta"} <= names:
                    have = ", ".join(sorted(names)[:8]) or "none"
                    raise BoundaryError(f"{label}: not a Strata boundary file (needs arrays 'vector' "
                                        f"and 'meta'; has {have})")
                vector = _npz_member(zf, "vector", label)
                meta_bytes = _npz_member(zf, "meta", label)
        except BoundaryError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError, ValueError,
                NotImplementedError, RuntimeError, zlib.error) as exc:
            raise BoundaryError(f"{label}: corrupt or truncated .npz archive "
                                f"({type(exc).__name__}: {exc})") from None
    if meta_bytes.dtype != np.uint8 or meta_bytes.ndim != 1:
        raise BoundaryError(f"{label}: 'meta' must be UTF-8 JSON bytes (uint8), "
                            f"got {meta_bytes.dtype} {list(meta_bytes.shape)}")
    meta = limits.parse_json(meta_bytes.tobytes(), label, BoundaryError, what="'meta'")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BoundaryError(f"{label}: not a Strata boundary file (metadata format is "
                            f"{str(meta.get('format'))[:40] if isinstance(meta, dict) else None!r})")
    return Boundary.from_dict(meta, vector, source=label)


def load_boundary(path: str | os.PathLike) -> Boundary:
    """Read one boundary file.

    Parameters
    ----------
    path : str or path-like
        A HiGAN ``.npy`` or a Strata ``.npz``.

    Returns
    -------
    Boundary
        Named after the file (HiGAN: the stem without ``_boundary``), with
        the file's path as provenance.

    Raises
    ------
    BoundaryError
        Missing, unreadable, damaged, unsafe, or not a boundary.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise BoundaryError(f"{path}: not a boundary file (expected .npy or .npz)")
    if path.is_dir():
        raise BoundaryError(f"{path}: is a folder, not a boundary file")
    return _load_higan(path) if suffix == ".npy" else _load_npz(path)


def load_boundaries(path_or_folder: str | os.PathLike, *,
                    recursive: bool = False) -> tuple[list[Boundary], list[str]]:
    """Read a boundary file, or every ``*.npy`` / ``*.npz`` in a folder.

    Files that cannot be read are reported, not fatal, so one bad file does
    not hide the good ones.

    Parameters
    ----------
    path_or_folder : str or path-like
        A file, or a folder whose boundary files are read in sorted order
        (hidden files skipped).
    recursive : bool
        Also read sub-folders (HiGAN's release keeps one folder per model).

    Returns
    -------
    boundaries : list of Boundary
    errors : list of str
        One message per file that could not be read, naming the file.
    """
    root = Path(path_or_folder)
    if root.is_dir():
        pattern = "**/*" if recursive else "*"
        files = sorted(
            (p for p in root.glob(pattern)
             if p.suffix.lower() in (".npy", ".npz") and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)),
            key=lambda p: p.relative_to(root).parts,
        )
    elif root.exists():
        files = [root]
    else:
        return [], [f"{root}: no such file or folder"]
    boundaries: list[Boundary] = []
    errors: list[str] = []
    for f in files:
        try:
            boundaries.append(load_boundary(f))
        except BoundaryError as exc:
            errors.append(str(exc))
    return boundaries, errors


def save_boundary(boundary: Boundary, path: str | os.PathLike) -> None:
    """Write ``boundary`` in Strata's ``.npz`` format, replacing ``path`` atomically.

    Raises
    ------
    SaveError
        The path does not end in ``.npz`` or the file could not be written.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise SaveError(f"Could not save {path}: a boundary file must end in .npz")
    try:
        meta = json.dumps(boundary.to_dict(), ensure_ascii=False, allow_nan=False,
                          sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SaveError(f"Could not save {path}: boundary {boundary.name!r} has metadata that "
                        f"cannot be written as JSON ({exc})") from None
    buf = io.BytesIO()
    np.savez(buf, vector=np.ascontiguousarray(boundary.vector, dtype=np.float32),
             meta=np.frombuffer(meta, dtype=np.uint8))
    atomic_write_bytes(path, buf.getvalue())
