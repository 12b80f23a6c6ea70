"""The Qt side of the engine: one QObject that forwards results as a signal.

The render thread calls :meth:`EngineAdapter._on_result`, which only emits;
a cross-thread emit is queued to the GUI thread, so the worker never waits
for the GUI. ``Signal(object)``, not ``Signal(dict)``: PySide6 can drop dict
payloads.

One copy of the model: the frame renderer and the strip renderer open it
through :func:`strata.engine.core.model_cache.load_shared`, so both (and a
discovery run started from the window on the same file) share its weights;
each renderer keeps its own activations, so a strip never evicts the
slider's cached layers. Strips render on their own thread, so they never
delay a slider frame.

Precision: :meth:`EngineAdapter.request` takes ``precision="fast"`` for
frames shown while a slider moves; each ``RenderResult`` says in
``precision`` ("exact", "bfloat16", "float16") what drew it and in
``seconds`` how long it took. Ask for the exact frame when the hand rests:
latest request wins, so the last frame shown is then the exact one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from strata.engine.core.render import Renderer, RenderRequest, RenderResult
from strata.engine.core.scene import Scene
from strata.engine.core.strip import StripRequest, StripResult, render_strip
from strata.engine.core.worker import RenderWorker


class EngineAdapter(QObject):
    resultReady = Signal(object)  # RenderResult, already filtered for staleness
    stripReady = Signal(object)  # StripResult

    _rawResult = Signal(object)
    _rawStrip = Signal(object)

    def __init__(self, device: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.renderer = Renderer(device)
        self._stamp = 0
        self._shown = -1
        self._closed = False
        self._rawResult.connect(self._deliver)  # queued: emitted on the worker thread
        self._worker = RenderWorker(self.renderer, self._rawResult.emit,
                                    on_error=lambda req, msg: RenderResult(req, error=msg))
        # Strips render on their own thread and renderer, so they never delay a slider frame;
        # the renderers share the model's weights (one copy, strata.engine.core.model_cache).
        self._strip_renderer = Renderer(device)
        self._strip_stamp = 0
        self._rawStrip.connect(self._deliver_strip)
        self._strip_worker = RenderWorker(self._render_strip, self._rawStrip.emit,
                                          on_error=lambda req, msg: StripResult(req, error=msg),
                                          name="strata-strip")

    def _render_strip(self, req: StripRequest) -> StripResult:
        import time
        t0 = time.perf_counter()
        images = render_strip(self._strip_renderer, req.scene, req.row, req.strengths, req.model_path,
                              precision=req.precision)
        return StripResult(req, images, time.perf_counter() - t0)

    def request_strip(self, model_path: str, scene: Scene, row: int, strengths, precision: str = "exact") -> int:
        """Ask for the preview strip of ``row``; returns its stamp. Never blocks."""
        self._strip_stamp += 1
        if self._closed:  # a queued event or timer after the window closed: nothing to do
            return self._strip_stamp
        self._strip_worker.submit(StripRequest(self._strip_stamp, str(model_path), scene, row, tuple(strengths),
                                               precision))
        return self._strip_stamp

    @property
    def strip_worker(self) -> RenderWorker:
        return self._strip_worker

    def _deliver_strip(self, result: StripResult) -> None:
        if not self._closed and result.request.stamp == self._strip_stamp:
            self.stripReady.emit(result)

    @property
    def worker(self) -> RenderWorker:
        return self._worker

    def request(self, model_path: str, scene: Scene, precision: str = "exact") -> int:
        """Ask for a frame; returns its stamp. Never blocks.

        ``precision="fast"`` asks for a reduced-precision frame (while a slider
        moves); the result's ``precision`` says what drew it ("exact" where the
        device has no faster one).
        """
        self._stamp += 1
        if self._closed:  # a queued event after the window closed: nothing to do
            return self._stamp
        self._worker.submit(RenderRequest(self._stamp, str(model_path), scene, precision))
        return self._stamp

    @property
    def latest_stamp(self) -> int:
        return self._stamp

    def _deliver(self, result: RenderResult) -> None:
        if self._closed or result.request.stamp <= self._shown:
            return  # stale: a newer frame is already on screen
        self._shown = result.request.stamp
        self.resultReady.emit(result)

    def close(self) -> None:
        """Stop both threads; later requests are ignored and no result is emitted after this."""
        self._closed = True
        self._worker.close()
        self._strip_worker.close()

    @property
    def closed(self) -> bool:
        return self._closed
