"""The Qt side of the engine: one QObject that forwards results as a signal.

The render thread calls :meth:`EngineAdapter._on_result`, which only emits;
a cross-thread emit is queued to the GUI thread, so the worker never waits
for the GUI. ``Signal(object)``, not ``Signal(dict)``: PySide6 can drop dict
payloads.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.render import Renderer, RenderRequest, RenderResult
from engine.scene import Scene
from engine.worker import RenderWorker


class EngineAdapter(QObject):
    resultReady = Signal(object)  # RenderResult, already filtered for staleness

    _rawResult = Signal(object)

    def __init__(self, device: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.renderer = Renderer(device)
        self._stamp = 0
        self._shown = -1
        self._rawResult.connect(self._deliver)  # queued: emitted on the worker thread
        self._worker = RenderWorker(self.renderer, self._rawResult.emit,
                                    on_error=lambda req, msg: RenderResult(req, error=msg))

    @property
    def worker(self) -> RenderWorker:
        return self._worker

    def request(self, model_path: str, scene: Scene) -> int:
        """Ask for a frame; returns its stamp. Never blocks."""
        self._stamp += 1
        self._worker.submit(RenderRequest(self._stamp, str(model_path), scene))
        return self._stamp

    @property
    def latest_stamp(self) -> int:
        return self._stamp

    def _deliver(self, result: RenderResult) -> None:
        if result.request.stamp <= self._shown:
            return  # stale: a newer frame is already on screen
        self._shown = result.request.stamp
        self.resultReady.emit(result)

    def close(self) -> None:
        self._worker.close()
