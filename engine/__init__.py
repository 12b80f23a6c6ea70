"""Strata's engine: generators, boundaries, edits, rendering and analysis.

Headless by contract: nothing here imports Qt, ``app`` or ``widgets``
(checked by an import-linter contract in ``pyproject.toml``).
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("scene-strata")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
