"""Step 4 of HiGAN's pipeline: read the hierarchy from the layer responses, and write the library.

The layers holding most of a boundary's response give its default layers
(:func:`choose_layers`) and, by where they sit in the synthesis, its level
(:func:`level_of`); :func:`write_library` saves the boundaries with both,
and the report (``hierarchy.json``, ``.md``, ``.png``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from strata.engine.core import limits
from strata.engine.core.errors import StrataError
from strata.engine.core.atomic import atomic_open, atomic_write_bytes
from strata.engine.core.boundary import Boundary, save_boundary
from strata.engine.discovery.fit import FittedBoundary
from strata.engine.discovery.report import hierarchy_image, hierarchy_markdown

if TYPE_CHECKING:  # rescoring reads the rule from here, so this module names its types only
    from strata.engine.discovery.rescoring import LayerResponse, Rescoring

__all__ = ["DEFAULT_MASS", "HIERARCHY_FORMAT", "LEVEL_THRESHOLDS", "choose_layers", "level_of", "write_library"]

HIERARCHY_FORMAT = "strata-hierarchy"

# Where a layer range sits decides its level; see level_of.
LEVEL_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("layout", 0.25), ("object", 0.55), ("attribute", 0.85), ("colour", math.inf))
DEFAULT_MASS = 0.6


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
    (first,), (last,) = choose_layers_rows(p[None], mass)
    return int(first), int(last)


def choose_layers_rows(profiles: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
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

    Where the response carries the rescoring bootstrap (:func:`~strata.engine.discovery.rescoring.rescore`),
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
        data = limits.read_json_file(folder / "hierarchy.json", "report", StrataError, what="report")
        if data.get("format") != HIERARCHY_FORMAT:
            return set()
        return {r["file"] for r in data["semantics"]
                if isinstance(r.get("file"), str) and r["file"] == Path(r["file"]).name
                and r["file"].endswith(".npz")}
    except (StrataError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
