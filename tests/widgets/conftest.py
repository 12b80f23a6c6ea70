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


@pytest.fixture(autouse=True)
def _delete_closed_widgets(qapp):
    """Delete what a test closed before the next test starts, in a fixed order.

    pytest-qt closes a test's widgets and schedules their deletion; without this
    they die inside whichever later test next runs the event loop, or at exit.
    Runs after qtbot's own teardown (autouse fixtures are set up first).
    """
    yield
    from PySide6 import QtCore

    # deleteLater frees the C++ objects whatever Python still holds; no gc.collect (0.2 s a test).
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
