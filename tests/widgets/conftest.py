"""Widget tests run offscreen, in one Qt style (helpers: qtwidget_helpers.py)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _fusion_style(qapp):
    """One style everywhere, so that pixel checks do not depend on the host."""
    qapp.setStyle("Fusion")
    yield


from tests._qt import _delete_closed_widgets  # noqa: E402,F401  (autouse)
