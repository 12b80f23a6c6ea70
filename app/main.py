"""Start the Qt application (imported only on the GUI path)."""

from __future__ import annotations

import sys
from pathlib import Path


# The libraries Qt's xcb plugin loads besides libxcb itself, and the Debian/Ubuntu packages that ship them.
XCB_LIBRARIES = {"libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
                 "libxcb-keysyms.so.1": "libxcb-keysyms1"}


def _load_library(soname: str) -> None:
    """Load ``soname`` as Qt would (dlopen); OSError when it is not installed."""
    import ctypes

    ctypes.CDLL(soname)


def check_xcb_libraries(*, platform: str | None = None, env=None, load=None) -> None:
    """Raise StrataError naming the packages to install when Qt's xcb plugin would abort.

    Only on Linux when Qt is going to use xcb (``QT_QPA_PLATFORM`` unset or
    ``xcb``, and not a Wayland session). ``platform``, ``env`` and ``load``
    default to ``sys.platform``, ``os.environ`` and :func:`_load_library`.
    """
    import os

    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    load = _load_library if load is None else load
    if not platform.startswith("linux"):
        return  # macOS and Windows wheels of Qt carry what they need
    requested = env.get("QT_QPA_PLATFORM", "")
    if requested and not requested.startswith("xcb"):
        return
    if not requested and env.get("WAYLAND_DISPLAY"):
        return
    missing = []
    for soname in XCB_LIBRARIES:
        try:
            load(soname)
        except OSError:
            missing.append(soname)
    if missing:
        from strata.engine.core.errors import StrataError
        raise StrataError(f"the window needs {', '.join(missing)} (Qt's xcb platform), which is not installed; "
                          f"install it with: sudo apt-get install {' '.join(XCB_LIBRARIES.values())}")


def run_gui(path: str | None = None, *, screenshot: str | None = None, device: str | None = None,
            settings_file: str | None = None) -> int:
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and not os.environ.get("QT_QPA_PLATFORM"):
        if not screenshot:
            from strata.engine.core.errors import StrataError
            raise StrataError("no display found (DISPLAY is not set); use `strata render` for headless "
                              "work, or set QT_QPA_PLATFORM=offscreen")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    check_xcb_libraries()
    from strata.widgets._pyside_compat import protect_bools

    protect_bools()  # before any signal is emitted: PySide6 6.12.0 leaks references to True
    from PySide6 import QtCore, QtWidgets

    from strata import assets
    from strata.engine.core.atomic import atomic_write_bytes
    from strata.engine.core.boundary import load_boundaries
    from strata.engine.core.errors import StrataError

    from .window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Strata")
    app.setOrganizationName("Strata")
    settings = None
    if screenshot or settings_file:
        # A scripted run must not read or change the user's window state and recent files.
        import tempfile
        settings_file = settings_file or str(Path(tempfile.mkdtemp(prefix="strata-")) / "settings.ini")
        settings = QtCore.QSettings(settings_file, QtCore.QSettings.IniFormat)
    boundaries = []
    bdir = assets.default_boundaries_path()
    if bdir is not None and bdir.exists():
        boundaries, _ = load_boundaries(bdir)
    win = MainWindow(assets.default_model_path(), boundaries, title=assets.default_title(),
                     device=device, settings=settings)
    if screenshot:
        win.quiet_errors = True
        win.resize(1280, 760)

        def shoot() -> None:
            # Let the layout settle and the second request (with boundaries) land.
            def grab() -> None:
                win.engine.worker.wait_until_idle(30)
                app.processEvents()
                # Through a buffer and an atomic write: a failed or interrupted save keeps the old file.
                buf = QtCore.QBuffer()
                buf.open(QtCore.QIODevice.WriteOnly)
                ok = win.grab().save(buf, Path(screenshot).suffix.lstrip(".").upper() or "PNG")
                if ok:
                    try:
                        atomic_write_bytes(screenshot, bytes(buf.data()))
                    except StrataError as exc:
                        print(f"strata: error: {exc}", file=sys.stderr)
                        ok = False
                app.exit(0 if ok else 1)
            QtCore.QTimer.singleShot(300, grab)

        win.firstFrame.connect(shoot)

        def first_failed(result) -> None:
            if not result.ok and win.editor.last is None:
                print(f"strata: error: {result.error.splitlines()[0]}", file=sys.stderr)
                app.exit(1)
        win.engine.resultReady.connect(first_failed)
        QtCore.QTimer.singleShot(120_000, lambda: app.exit(3))  # never hang a script
    win.show()
    if path:
        QtCore.QTimer.singleShot(0, lambda: win.open_path(path))
    elif not screenshot:
        win.offer_recovery() or win.offer_last_scene()
    code = app.exec()
    win.close()
    return code
