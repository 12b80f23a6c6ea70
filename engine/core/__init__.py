"""The editing runtime: generators, loading, boundaries, edits, scenes, rendering, the render thread.

Imports neither :mod:`strata.engine.discovery` nor :mod:`strata.engine.rooms`
(an import-linter contract in ``pyproject.toml``).
"""
