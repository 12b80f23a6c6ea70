"""Strata's engine, in three parts:

``strata.engine.core``
    The editing runtime: generators and their files, boundaries, edits,
    scenes and recipes, rendering and the render thread.
``strata.engine.discovery``
    HiGAN's semantic discovery: annotate sampled scenes with predictors,
    fit boundaries, re-score them layer by layer, write the hierarchy.
``strata.engine.rooms``
    The demo world: procedural rooms, their predictor, and training and
    evaluating a generator on them.

Headless by contract: nothing here imports Qt, ``strata.app`` or
``strata.widgets``; the runtime imports neither of the other parts, and
discovery finds predictors through its registry rather than importing the
rooms world (import-linter contracts in ``pyproject.toml``).
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("scene-strata")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
