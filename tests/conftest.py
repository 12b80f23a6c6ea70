"""Shared test set-up: where the reference fixtures live, and tiny models."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests._reference import SHARED_FIXTURES as SHARED

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from strata.widgets._pyside_compat import protect_bools  # noqa: E402

# PySide6 6.12.0's Signal.emit drops a reference to True on each call; a full run would abort
# CPython 3.11 (widgets/_pyside_compat.py). pyproject excludes that release; this covers a venv
# that has it anyway, as `strata` itself does at start.
protect_bools()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    assert SHARED.is_dir(), f"reference fixtures missing at {SHARED} (../shared/fixtures beside the checkout)"
    return SHARED


@pytest.fixture(autouse=True)
def _no_leaked_render_threads():
    """Fail any test that leaves an engine thread running."""
    yield
    leaked = [t for t in threading.enumerate() if t.name.startswith("strata-") and t.is_alive()]
    for t in leaked:
        t.join(5)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"engine threads left running: {leaked}"


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """A tiny random StyleGAN saved in HiGAN's plain state-dict layout."""
    import torch

    from ._models import tiny_generator

    path = tmp_path / "tiny16_generator.pth"
    torch.save(tiny_generator().state_dict(), path)
    return path
