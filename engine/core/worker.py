"""A render thread with one pending-request slot: the latest request wins.

While a frame renders, new requests overwrite the pending one, so a slider
dragged faster than frames render never builds a queue: the thread renders
the newest request next and the results keep up with the hand. Each result
carries its request (and so its stamp); a receiver drops a result older than
one it already shows.

``synchronous=True`` renders in :meth:`RenderWorker.submit` itself, for the
command line and tests.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Callable, Generic, TypeVar

from strata.engine.core.errors import StrataError

__all__ = ["RenderWorker"]

Req = TypeVar("Req")
Res = TypeVar("Res")


class RenderWorker(Generic[Req, Res]):
    """Runs ``render(request) -> result`` on a thread, newest request first.

    Parameters
    ----------
    render : callable
        Must not raise; if it does, ``on_error(request, message)`` builds the
        result instead (by default the exception text is delivered as is).
    on_result : callable, optional
        Called on the worker thread with each result. Must not block: a GUI
        adapter only queues a signal.
    synchronous : bool
        Render in the caller's thread inside :meth:`submit`.
    """

    def __init__(self, render: Callable[[Req], Res], on_result: Callable[[Res], None] | None = None,
                 *, on_error: Callable[[Req, str], Res] | None = None, synchronous: bool = False,
                 name: str = "strata-render"):
        self._render = render
        self._on_result = on_result
        self._on_error = on_error
        self._cond = threading.Condition(threading.RLock())  # re-entrant: see _deliver
        self._pending: Req | None = None
        self._busy = False
        self._closed = False
        self.renders = 0  # how many requests were rendered (the rest were replaced)
        self.submitted = 0
        self.last_result: Res | None = None
        self._thread: threading.Thread | None = None
        if not synchronous:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    @property
    def synchronous(self) -> bool:
        return self._thread is None

    def submit(self, request: Req) -> None:
        """Replace the pending request with ``request`` (or render it now when synchronous)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the render worker is closed")
            self.submitted += 1
            if self._thread is not None:
                self._pending = request
                self._cond.notify_all()
                return
        self._deliver(self._safe_render(request))

    def _safe_render(self, request: Req) -> Res:
        try:
            return self._render(request)
        except Exception as exc:
            msg = str(exc) if isinstance(exc, StrataError) else f"{type(exc).__name__}: {exc}"
            if self._on_error is None:
                traceback.print_exc()
                raise
            return self._on_error(request, msg)

    def _deliver(self, result: Res) -> None:
        with self._cond:
            self.renders += 1
            self.last_result = result
            # Under the lock and only while open: once close() has returned, no receiver is
            # called again, so a GUI adapter can be deleted even while a render still runs
            # (a render that ends after close() is dropped). The lock is re-entrant, so a
            # synchronous receiver may submit again.
            if self._on_result is None or self._closed:
                return
            try:
                self._on_result(result)
            except Exception:  # a broken receiver must not kill the thread
                traceback.print_exc()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                request, self._pending = self._pending, None
                self._busy = True
            try:
                result = self._safe_render(request)
            except Exception:
                result = None
            if result is not None:
                self._deliver(result)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or rendering; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Drop the pending request and join the thread (up to ``timeout`` s).

        From its return on, ``on_result`` is never called again, even if the
        current render outlives the timeout (its result is dropped).
        """
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> RenderWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
