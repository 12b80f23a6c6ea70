"""Widget tests run offscreen, in one Qt style (helpers: qtwidget_helpers.py)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from strata.widgets._pyside_compat import protect_bools  # noqa: E402

# PySide6 6.12's Signal.emit drops a reference to True on each call; without this a
# full widget run aborts in CPython 3.11 at exit (see widgets/_pyside_compat.py).
protect_bools()


@pytest.fixture(scope="session", autouse=True)
def _fusion_style(qapp):
    """One style everywhere, so that pixel checks do not depend on the host."""
    qapp.setStyle("Fusion")
    yield


from tests._qt import _delete_closed_widgets  # noqa: E402,F401  (autouse)
