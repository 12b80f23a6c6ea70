"""A fixture shared by the Qt test folders (tests/app, tests/widgets); engine tests never load Qt."""

from __future__ import annotations

import pytest


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
