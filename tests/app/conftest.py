from __future__ import annotations

import numpy as np
import pytest

from strata.engine.core.boundary import Boundary, save_boundary


@pytest.fixture
def boundary_dir(tmp_path):
    d = tmp_path / "bounds"
    d.mkdir()
    rng = np.random.RandomState(1)
    save_boundary(Boundary("wood", rng.randn(16), level="attribute", layers=(2, 5)), d / "wood.npz")
    save_boundary(Boundary("view", rng.randn(16), level="layout", layers=(0, 1)), d / "view.npz")
    return d


@pytest.fixture(autouse=True)
def _no_real_home(tmp_path, monkeypatch):
    """No test reads or writes the user's settings or discoveries: Strata's folders point into tmp_path."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_config_dir", lambda *a, **k: str(tmp_path / "home" / "config"))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "home" / "data"))
    monkeypatch.setenv("STRATA_STATE_DIR", str(tmp_path / "home" / "state"))  # the crash journal
    monkeypatch.setattr(platformdirs, "user_state_dir", lambda *a, **k: str(tmp_path / "home" / "state"))


@pytest.fixture
def make_window(qtbot, tmp_path, tiny_model, boundary_dir):
    from PySide6 import QtCore

    from strata.app.window import MainWindow
    from strata.engine.core.boundary import load_boundaries

    windows = []

    def make(model=tiny_model, with_boundaries=True):
        settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.IniFormat)
        bs = load_boundaries(boundary_dir)[0] if with_boundaries else []
        win = MainWindow(model, bs, device="cpu", settings=settings)
        win.quiet_errors = True  # errors go to the status bar, no modal box in tests
        win.discard_on_close = True  # closing at the end of a test asks nothing
        qtbot.addWidget(win)
        windows.append(win)
        win.show()
        wait_frame(qtbot, win)
        return win

    yield make
    for w in windows:
        w.close()


def wait_frame(qtbot, win, timeout=10_000):
    """Wait until the engine is idle and its last result has reached the window."""
    def done():
        assert not win._settle.isActive()  # no exact frame still to come after a drag preview
        assert win.engine.worker.idle()
        assert win.editor.last is not None
        assert win.engine._shown == win.engine.latest_stamp  # the newest result reached the window
    qtbot.waitUntil(done, timeout=timeout)


@pytest.fixture(autouse=True)
def _delete_closed_widgets(request):
    """tests/_qt.py's clean-up, for the Qt tests only: the editor's own tests (no qtbot) never start Qt."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    yield
    from PySide6 import QtCore

    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
