"""What a path is, where Strata keeps its own files, and the recent-files list (no Qt).

Public API
----------
kind_of(path, *, code_shape=None) -> str
    ``"boundaries"``, ``"model"``, ``"recipe"`` or ``"code"``; raises
    StrataError for anything else.
looks_like_code(path, code_shape) -> bool
with_recent(recent, path, *, limit=MAX_RECENT) -> list[str]
recent_list(value) -> list[str]
settings_path() -> Path
state_dir() -> Path
    the crash-recovery journal's folder (``STRATA_STATE_DIR``, else platformdirs' user state folder)
discoveries_dir(fingerprint) -> Path
suggested_name(scene, kind, *, row=None) -> str
    the file name a save dialog offers (``scene_seed7.png``, ``wp_seed7.npy``...)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import re

from strata.engine.core import limits
from strata.engine.core.errors import StrataError

__all__ = ["MAX_RECENT", "discoveries_dir", "kind_of", "looks_like_code", "recent_list", "settings_path",
           "state_dir", "suggested_name", "with_recent"]

MODEL_SUFFIXES = {".pth", ".pt", ".ckpt", ".pkl"}  # .pkl: NVIDIA's pickles, read without running them
RECIPE_SUFFIXES = {".png", ".json"}
BOUNDARY_SUFFIXES = {".npy", ".npz"}
MAX_RECENT = 10

APP = ("Strata", "Strata")  # (appname, appauthor) for platformdirs


def looks_like_code(path: Path, code_shape: tuple[int, int, int] | None) -> bool:
    """A ``.npy`` shaped ``code_shape`` (``[1, L, w_dim]``) is a wp code; anything else is not.

    A file named like a boundary is never a code, even when the shapes agree.
    """
    if code_shape is None or "boundary" in Path(path).stem:
        return False
    try:
        # Through the limits: a FIFO named .npy never blocks here, a damaged header is just "not a code".
        with limits.open_regular(path, "code", StrataError) as fh:
            header = limits.read_npy_header(fh, path, StrataError, file_size=os.fstat(fh.fileno()).st_size)
    except StrataError:  # a damaged file: not a code, let the boundary reader say why
        return False
    return not header.dtype.hasobject and tuple(header.shape) == tuple(code_shape)


def kind_of(path: str | Path, *, code_shape: tuple[int, int, int] | None = None) -> str:
    """What opening ``path`` means: ``"boundaries"``, ``"model"``, ``"recipe"`` or ``"code"``.

    Parameters
    ----------
    path : str or Path
        A file or folder (a folder holds boundaries).
    code_shape : (1, num_layers, w_dim) or None
        The wp shape of the open model; without one a ``.npy`` is a boundary.

    Raises
    ------
    StrataError
        A file Strata does not open.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        return "boundaries"
    if suffix in MODEL_SUFFIXES:
        return "model"
    if suffix in RECIPE_SUFFIXES:
        return "recipe"
    if suffix in BOUNDARY_SUFFIXES:
        return "code" if suffix == ".npy" and looks_like_code(path, code_shape) else "boundaries"
    raise StrataError(f"{path}: Strata opens models (.pth, .pt, .pkl), scenes (.png, .json), "
                      "boundaries (.npy, .npz or a folder) and codes (.npy)")


def recent_list(value) -> list[str]:
    """The recent files as stored (QSettings gives a str for one entry, None for none)."""
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or []) if v]


def with_recent(recent: Sequence[str], path: str | Path, *, limit: int = MAX_RECENT) -> list[str]:
    """``recent`` with ``path`` (resolved) first, once, and at most ``limit`` entries."""
    p = str(Path(path).resolve())
    return ([p] + [r for r in recent if r != p])[:limit]


def settings_path() -> Path:
    """The settings file (window layout, recent files, last folder), in the user's config folder."""
    import platformdirs

    return Path(platformdirs.user_config_dir(*APP)) / "settings.ini"


STATE_DIR_ENV = "STRATA_STATE_DIR"  # tests and a second profile point the journal elsewhere


def state_dir() -> Path:
    """Where the crash-recovery journal lives: ``$STRATA_STATE_DIR``, else the user's state folder."""
    import platformdirs

    override = os.environ.get(STATE_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_state_dir(*APP))


def discoveries_dir(fingerprint: str) -> Path:
    """Where a discovery run on the model with ``fingerprint`` writes its boundaries."""
    import platformdirs

    return Path(platformdirs.user_data_dir(*APP)) / "discoveries" / fingerprint[:12]


# kind -> (prefix, suffix) of the name a save dialog offers
_SAVE_KINDS = {"png": ("scene", ".png"), "json": ("scene", ".json"), "wp": ("wp", ".npy"),
               "strip_png": ("strip", ".png"), "strip_gif": ("strip", ".gif")}


def suggested_name(scene, kind: str, *, row: int | None = None) -> str:
    """The file name a save dialog offers for ``scene``.

    Parameters
    ----------
    scene : Scene
        The scene being saved.
    kind : str
        ``"png"``, ``"json"``, ``"wp"``, ``"strip_png"`` or ``"strip_gif"``.
    row : int, optional
        For a strip: the row whose boundary it sweeps (named after it).

    Returns
    -------
    str
        ``scene_seed7.png``, ``scene_seed7.json``, ``wp_seed7.npy``,
        ``strip_wood_floor.png``; a code with no seed gives ``scene.png``.
    """
    prefix, suffix = _SAVE_KINDS[kind]
    if kind.startswith("strip"):
        parts = [prefix]
        if row is not None and 0 <= row < len(scene.edits):
            parts.append(scene.edits[row].boundary.name)
    else:
        parts = [prefix]
        if scene.code.seed is not None:
            parts.append(f"seed{scene.code.seed}")
        if scene.class_index is not None:
            parts.append(f"class{scene.class_index}")
    stem = "_".join(parts)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or prefix  # safe on every file system
    return stem + suffix
