"""Files that ship with Strata: the default model, its boundaries, the predictor.

``default.json`` names the default model, its boundary folder and its title, so
that another model can become the default without code changes.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

__all__ = ["HERE", "default_manifest", "default_model_path", "default_boundaries_path", "default_title"]


def default_manifest() -> dict:
    return json.loads((HERE / "default.json").read_text(encoding="utf-8"))


def default_model_path() -> Path:
    return HERE / default_manifest()["model"]


def default_boundaries_path() -> Path | None:
    b = default_manifest().get("boundaries")
    return HERE / b if b else None


def default_title() -> str:
    return default_manifest().get("title", "bundled model")
