"""The worker behind *Discover semantics...*: ``run_discovery`` on a thread, reported through Qt signals.

:class:`DiscoveryRunner` runs ``run_discovery`` (or any function with its
signature) on a ``threading.Thread`` named ``strata-discovery``. A run on the
model the window shows uses the window's copy of it (``run_discovery`` opens
models through :func:`strata.engine.core.model_cache.load_shared`), so the
weights are in memory once. The worker
only emits; every public signal is delivered on the runner's (GUI) thread,
after the worker thread has been joined. :func:`format_eta` and
:func:`format_duration` put the time left and taken into words.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from PySide6 import QtCore
from PySide6.QtCore import QObject, Signal

from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Cancelled

__all__ = ["DiscoveryRunner", "format_duration", "format_eta"]

log = logging.getLogger(__name__)

THREAD_NAME = "strata-discovery"
# No time estimate before this much of the run and this many seconds have gone by:
# the first batches include warm-up and say little about the rate.
ETA_MIN_FRACTION = 0.02
ETA_MIN_SECONDS = 0.3


def _default_run_fn(*args, **kwargs):
    from strata.engine.discovery import pipeline

    return pipeline.run_discovery(*args, **kwargs)  # looked up at call time, so a patched module is seen


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 12 s"``, ``"2 h 05 min"``."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_eta(seconds: float | None) -> str:
    """Time left in words (``"about 3 min left"``); ``""`` when unknown (None or negative)."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 60:
        return f"about {int(round(seconds / 5.0)) * 5} s left"
    if seconds < 5400:
        return f"about {max(int(round(seconds / 60.0)), 1)} min left"
    hours, minutes = divmod(int(round(seconds / 60.0)), 60)
    return f"about {hours} h {minutes:02d} min left"


class _Eta:
    """Time left from the rate since the first report (resumed runs start above 0)."""

    def __init__(self, min_fraction: float = ETA_MIN_FRACTION, min_seconds: float = ETA_MIN_SECONDS):
        self.min_fraction = min_fraction
        self.min_seconds = min_seconds
        self._t0: float | None = None
        self._f0 = 0.0

    def update(self, fraction: float, now: float | None = None) -> float:
        """Seconds left, or -1.0 while there is too little progress to tell."""
        now = time.monotonic() if now is None else now
        if self._t0 is None:
            self._t0, self._f0 = now, fraction
            return -1.0
        done, elapsed = fraction - self._f0, now - self._t0
        if fraction >= 1.0:
            return 0.0
        if done < self.min_fraction or elapsed < self.min_seconds:
            return -1.0
        return elapsed / done * (1.0 - fraction)


class DiscoveryRunner(QObject):
    """Runs ``run_discovery`` (or ``run_fn``) on a worker thread; one run at a time.

    Signals
    -------
    progressed(fraction, message, eta_seconds)
        ``fraction`` of the whole run in [0, 1], the step's message, and
        the seconds left (-1.0 until enough progress to estimate).
    finished(summary)
        ``run_fn``'s return value (``run_discovery``'s summary dict).
    failed(message)
        A one-line message (a :class:`StrataError`'s text, or a bug's).
    cancelled()
        The run stopped because :meth:`cancel` was called; its finished
        work is on disk.

    Exactly one of ``finished``, ``failed``, ``cancelled`` follows each
    :meth:`start`, on this object's thread, once the worker thread has
    ended; :meth:`is_running` is already False then.

    Parameters
    ----------
    run_fn : callable, optional
        ``run_fn(model_path, *, out_dir, progress, should_stop, **options)``;
        default :func:`strata.engine.discovery.pipeline.run_discovery`.
    parent : QObject, optional
    """

    progressed = Signal(float, str, float)
    finished = Signal(object)  # object, not dict: PySide6 can drop dict payloads
    failed = Signal(str)
    cancelled = Signal()

    # Emitted on the worker thread, so queued to this object's thread.
    _rawProgress = Signal(int, float, str, float)
    _rawDone = Signal(int)

    def __init__(self, run_fn: Callable | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._run_fn = run_fn or _default_run_fn
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._run_id = 0
        self._active = False  # a run started and its outcome not yet delivered
        self._outcome: tuple[str, object] | None = None
        self._lock = threading.Lock()
        self._rawProgress.connect(self._on_progress, QtCore.Qt.QueuedConnection)
        self._rawDone.connect(self._on_done, QtCore.Qt.QueuedConnection)

    # ------------------------------------------------------------------ control (GUI thread)

    def start(self, model_path, out_dir, **options) -> None:
        """Start a run; ``options`` go to ``run_fn`` (``predictor``, ``n``, ``m``, ``lam``, ``k`` ...).

        Raises
        ------
        RuntimeError
            A run is already going.
        """
        if self.is_running():
            raise RuntimeError("a discovery run is already going")
        self._deliver()  # a finished run whose outcome is still queued: report it first
        self._stop.clear()
        self._run_id += 1
        self._active = True
        self._outcome = None
        self._thread = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True,
                                        args=(self._run_id, model_path, out_dir, dict(options)))
        self._thread.start()

    def cancel(self) -> None:
        """Ask the run to stop after its current batch (returns at once)."""
        self._stop.set()

    def is_running(self) -> bool:
        """True from :meth:`start` until the outcome signal is delivered."""
        return self._active

    def stopping(self) -> bool:
        """True while a cancelled run is still winding down."""
        return self._active and self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the worker thread; if it ended, deliver its outcome signal now.

        Call from the runner's thread. Returns True when no run is left going.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._deliver()
        return not self._active

    # ------------------------------------------------------------------ worker thread

    def _work(self, run_id: int, model_path, out_dir, options: dict) -> None:
        eta = _Eta()

        def progress(fraction: float, message: str) -> None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            self._emit(self._rawProgress, run_id, fraction, str(message), eta.update(fraction))

        try:
            summary = self._run_fn(model_path, out_dir=out_dir, progress=progress,
                                   should_stop=self._stop.is_set, **options)
            outcome = ("finished", summary)
        except Cancelled:
            outcome = ("cancelled", None)
        except StrataError as exc:
            outcome = ("failed", str(exc))
        except Exception as exc:  # a bug: say so in one line, keep the traceback in the log
            log.error("discovery run failed:\n%s", traceback.format_exc())
            outcome = ("failed", f"unexpected error ({type(exc).__name__}): {exc}")
        with self._lock:
            if run_id == self._run_id:
                self._outcome = outcome
        self._emit(self._rawDone, run_id)

    @staticmethod
    def _emit(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the runner was deleted while the thread ran: nobody to tell
            pass

    # ------------------------------------------------------------------ delivery (GUI thread)

    def _on_progress(self, run_id: int, fraction: float, message: str, eta: float) -> None:
        if run_id == self._run_id and self._active:
            self.progressed.emit(fraction, message, eta)

    def _on_done(self, run_id: int) -> None:
        if run_id == self._run_id:
            self._deliver()

    def _deliver(self) -> None:
        """Emit the outcome of an ended run, once (the thread is joined first)."""
        with self._lock:
            outcome = self._outcome
            if outcome is None:
                return
            self._outcome = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._active = False
        kind, payload = outcome
        if kind == "finished":
            self.finished.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()

