"""Semantic discovery (HiGAN's pipeline): annotate sampled scenes, fit boundaries, re-score layer by layer.

Finds predictors through its registry and never imports :mod:`strata.engine.rooms`
(an import-linter contract in ``pyproject.toml``).
"""
