"""The *Discover semantics* dialog and its runner: progress, cancel, errors, results, one real run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6 import QtCore

from strata.app.discover_dialog import DiscoverDialog, available_predictor_names
from strata.app.discovery_runner import DiscoveryRunner, _Eta, format_eta
from strata.engine.core.boundary import Boundary, load_boundaries, save_boundary
from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Cancelled
from strata.engine.discovery.predictors import SemanticSpec


def _discovery_threads():
    return [t for t in threading.enumerate() if t.name == "strata-discovery" and t.is_alive()]


class FakeRun:
    """A stand-in for run_discovery: ``steps`` progress reports, ``sleep`` s apart, honouring should_stop."""

    def __init__(self, steps=10, sleep=0.06, error=None, write=False):
        self.steps, self.sleep, self.error, self.write = steps, sleep, error, write
        self.calls = []
        self.stopped = False

    def __call__(self, model_path, *, out_dir, progress, should_stop, **options):
        self.calls.append(dict(options, model_path=model_path, out_dir=out_dir))
        for i in range(self.steps):
            if should_stop():
                self.stopped = True
                raise Cancelled(f"stopped after {i} of {self.steps} steps")
            time.sleep(self.sleep)
            progress((i + 1) / self.steps, f"annotating: {i + 1}/{self.steps} samples")
        if self.error is not None:
            raise self.error
        if self.write:
            lib = out_dir / "boundaries"
            lib.mkdir(parents=True, exist_ok=True)
            rng = np.random.RandomState(0)
            save_boundary(Boundary("wood", rng.randn(16), level="attribute", layers=(2, 5)), lib / "wood.npz")
            save_boundary(Boundary("view", rng.randn(16), level="layout", layers=(0, 1)), lib / "view.npz")
            # PIL, not QImage: this runs on the discovery thread, where Qt is not used.
            Image.new("RGB", (120, 40), (40, 90, 140)).save(out_dir / "hierarchy.png")
            return {"out_dir": str(out_dir), "library": str(lib), "seconds": {"total": 75.0},
                    "boundaries": [{"name": "wood", "layers": [2, 5]}, {"name": "view", "layers": [0, 1]},
                                   {"name": "lamp", "layers": None, "note": "scores never vary"}]}
        return {}


@pytest.fixture
def make_dialog(qtbot, tmp_path):
    dialogs = []

    def make(run_fn, **kw):
        kw.setdefault("predictors", ["rooms"])
        dlg = DiscoverDialog(tmp_path / "model.pth", tmp_path / "run", run_fn=run_fn, **kw)
        dlg.ask_before_stopping = False
        qtbot.addWidget(dlg)
        dlg.show()
        dialogs.append(dlg)
        return dlg

    yield make
    for dlg in dialogs:
        assert dlg.shutdown(10)


def test_defaults_reach_run_discovery(make_dialog, qtbot, tmp_path):
    run = FakeRun(steps=1, sleep=0)
    dlg = make_dialog(run)
    with qtbot.waitSignal(dlg.runner.finished, timeout=5000):
        dlg.start_button.click()
    opts = run.calls[0]
    assert (opts["predictor"], opts["n"], opts["m"], opts["lam"], opts["k"], opts["seed"],
            opts["batch_size"]) == ("rooms", 20000, 500, 2.0, 0.02, 0, 64)
    assert opts["out_dir"] == tmp_path / "run" and opts["model_path"] == tmp_path / "model.pth"
    assert "strata analyze" in opts["command"] and "-n 20000" in opts["command"]


def test_progress_bar_advances_and_a_time_estimate_appears(make_dialog, qtbot):
    dlg = make_dialog(FakeRun(steps=10, sleep=0.06))
    seen = []  # (bar value, eta text) as the user sees them after each report
    dlg.runner.progressed.connect(lambda f, msg, eta: seen.append((dlg.progress_bar.value(), eta,
                                                                   dlg.eta_label.text())))
    dlg.n_spin.setValue(5000)
    with qtbot.waitSignal(dlg.runner.finished, timeout=10_000):
        dlg.start_button.click()
        assert not dlg.start_button.isEnabled() and dlg.cancel_button.isEnabled()
        assert not dlg.n_spin.isEnabled()
    values = [v for v, _, _ in seen]
    assert len(seen) == 10 and values == sorted(values) and values[0] > 0 and values[-1] == 1000
    assert seen[0][1] == -1 and seen[0][2] == "estimating time left…"
    assert any(eta > 0 and text.endswith("left") for _, eta, text in seen[1:-1])
    assert dlg.start_button.isEnabled() and not dlg.cancel_button.isEnabled() and dlg.n_spin.isEnabled()
    assert not _discovery_threads()


def test_the_runner_reports_once_after_its_thread_has_ended(qtbot, tmp_path):
    runner = DiscoveryRunner(FakeRun(steps=3, sleep=0.01))
    seen = []
    runner.finished.connect(lambda s: seen.append((s, runner.is_running(), bool(_discovery_threads()))))
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start(tmp_path / "model.pth", tmp_path / "run", n=10)
        assert runner.is_running()
    assert runner.wait(1) and seen == [({}, False, False)]


def test_time_estimate_uses_the_rate_since_the_first_report():
    eta = _Eta(min_fraction=0.02, min_seconds=0.3)
    assert eta.update(0.40, now=100.0) == -1  # a resumed run starts part-way: not a rate
    assert eta.update(0.41, now=100.1) == -1  # too early to tell
    assert eta.update(0.60, now=104.0) == pytest.approx(4.0 / 0.2 * 0.4)
    assert format_eta(180) == "about 3 min left" and format_eta(42) == "about 40 s left"
    assert format_eta(2 * 3600 + 300) == "about 2 h 05 min left" and format_eta(-1) == ""


def test_cancel_stops_the_run_and_start_works_again(make_dialog, qtbot):
    run = FakeRun(steps=500, sleep=0.02)
    dlg = make_dialog(run)
    dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.progress_bar.value() > 0, timeout=5000)
    with pytest.raises(RuntimeError):
        dlg.runner.start(dlg.model_path, dlg.out_dir())
    with qtbot.waitSignal(dlg.runner.cancelled, timeout=5000):
        dlg.cancel_button.click()
        assert "Stopping" in dlg.status_label.text()
    assert run.stopped and not dlg.runner.is_running() and not _discovery_threads()
    assert dlg.progress_bar.value() < 1000
    assert "Start resumes" in dlg.status_label.text()
    assert dlg.start_button.isEnabled() and not dlg.cancel_button.isEnabled()
    run.steps = 2
    with qtbot.waitSignal(dlg.runner.finished, timeout=5000):
        dlg.start_button.click()
    assert len(run.calls) == 2


def test_an_error_is_one_line_and_the_dialog_stays_usable(make_dialog, qtbot):
    run = FakeRun(steps=2, sleep=0.01, error=StrataError("model.pth: not a StyleGAN generator"))
    dlg = make_dialog(run)
    with qtbot.waitSignal(dlg.runner.failed, timeout=5000) as blocker:
        dlg.start_button.click()
    assert blocker.args == ["model.pth: not a StyleGAN generator"]
    assert dlg.error_label.isVisible() and dlg.error_label.text() == "model.pth: not a StyleGAN generator"
    assert dlg.start_button.isEnabled() and not _discovery_threads()
    run.error = ValueError("bad\nthing")  # a bug, not a StrataError: still one line, no crash
    with qtbot.waitSignal(dlg.runner.failed, timeout=5000):
        dlg.start_button.click()
    assert dlg.error_label.text() == "unexpected error (ValueError): bad thing"
    run.error = None
    with qtbot.waitSignal(dlg.runner.finished, timeout=5000):
        dlg.start_button.click()
    assert not dlg.error_label.isVisible()


def test_a_finished_run_shows_the_heat_map_and_hands_over_the_boundaries(make_dialog, qtbot, tmp_path):
    dlg = make_dialog(FakeRun(steps=3, sleep=0.01, write=True))
    with qtbot.waitSignal(dlg.boundariesReady, timeout=5000) as blocker:
        dlg.start_button.click()
    folder = tmp_path / "run" / "boundaries"
    assert blocker.args == [str(folder)]
    assert len(load_boundaries(folder)[0]) == 2
    pix = dlg.heatmap_label.pixmap()
    assert dlg.heatmap_scroll.isVisible() and not pix.isNull() and (pix.width(), pix.height()) == (120, 40)
    text = dlg.summary_label.text()
    assert "<b>2</b> boundaries" in text and "1 semantic without one" in text and str(folder) in text
    assert "added to the window as a new boundary set" in text  # something (the window; here qtbot) listens
    assert dlg.status_label.text() == "Done in 1 min 15 s."
    assert not dlg.runner.is_running() and not _discovery_threads()


def test_the_summary_says_open_in_the_panel_only_when_a_window_takes_the_boundaries(make_dialog, qtbot, tmp_path):
    dlg = make_dialog(FakeRun(steps=1, sleep=0, write=True))  # nothing connected to boundariesReady
    dlg.start_button.click()
    qtbot.waitUntil(lambda: "Found <b>2</b>" in dlg.summary_label.text(), timeout=5000)
    assert "added to the window as a new boundary set" not in dlg.summary_label.text()
    taken = []
    dlg.boundariesReady.connect(taken.append)  # as the main window does
    dlg.start_button.click()
    qtbot.waitUntil(lambda: bool(taken), timeout=5000)
    assert "added to the window as a new boundary set" in dlg.summary_label.text()
    assert taken == [str(tmp_path / "run" / "boundaries")]


def test_closing_while_running_stops_the_run(make_dialog, qtbot, monkeypatch):
    run = FakeRun(steps=500, sleep=0.02)
    dlg = make_dialog(run)
    dlg.ask_before_stopping = True
    monkeypatch.setattr(dlg, "_confirm_stop", lambda: False)  # "Keep running"
    dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.progress_bar.value() > 0, timeout=5000)
    dlg.close()
    assert dlg.isVisible() and dlg.runner.is_running() and not run.stopped
    monkeypatch.setattr(dlg, "_confirm_stop", lambda: True)  # "Stop and close"
    with qtbot.waitSignal(dlg.runner.cancelled, timeout=5000):
        dlg.close()
    assert not dlg.isVisible() and run.stopped and not _discovery_threads()


def test_shutdown_joins_at_once(make_dialog, qtbot):
    """The main window's closeEvent: stop and join without waiting for the event loop."""
    dlg = make_dialog(FakeRun(steps=500, sleep=0.02))
    got = []
    dlg.runner.cancelled.connect(lambda: got.append("cancelled"))
    dlg.start_button.click()
    assert dlg.shutdown(5) and got == ["cancelled"] and not _discovery_threads()
    assert dlg.start_button.isEnabled()


def test_predictor_list_shows_the_registry_and_survives_a_broken_one(monkeypatch):
    from strata.engine.discovery import predictors

    monkeypatch.setattr(predictors, "available_predictors", lambda: ("rooms", "places"))  # a plug-in installed
    assert available_predictor_names() == ["rooms", "places"]

    def broken():
        raise RuntimeError("bad entry point metadata")

    monkeypatch.setattr(predictors, "available_predictors", broken)
    assert available_predictor_names() == ["rooms"]  # the dialog opens; a run would say what is wrong


class RegionPredictor:
    """Scores that are fixed functions of an image's colours (no network)."""

    name = "regions"
    input_resolution = 8
    semantics = (
        SemanticSpec("red_top", "layout", "continuous", "mean red of the top half"),
        SemanticSpec("bright", "colour", "continuous", "mean brightness"),
    )

    def predict(self, images):
        h = images.shape[-2]
        return {"red_top": images[:, 0, : h // 2].mean(dim=(1, 2)), "bright": images.mean(dim=(1, 2, 3))}


def test_a_real_run_on_a_tiny_generator(qtbot, tmp_path, tiny_model):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine shares its cores
    out = tmp_path / "discover"
    dlg = DiscoverDialog(tiny_model, out, device="cpu", predictors=[RegionPredictor()])
    dlg.ask_before_stopping = False
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.predictor_combo.currentText() == "regions"
    dlg.n_spin.setValue(256)
    dlg.m_spin.setValue(16)
    dlg.top_spin.setValue(0.1)
    got = []
    dlg.runner.progressed.connect(lambda f, msg, eta: got.append(f))
    try:
        with qtbot.waitSignal(dlg.boundariesReady, timeout=30_000) as blocker:
            dlg.start_button.click()
    finally:
        stopped = dlg.shutdown(30)
        torch.set_num_threads(threads)
    assert stopped, "the discovery thread did not stop within 30 s"
    folder = out / "boundaries"
    assert blocker.args == [str(folder)]
    boundaries, errors = load_boundaries(folder)
    assert errors == [] and sorted(b.name for b in boundaries) == ["bright", "red_top"]
    assert got and got[-1] == 1.0
    assert not dlg.heatmap_label.pixmap().isNull() and (folder / "hierarchy.png").is_file()
    assert "--predictor regions -n 256 -m 16" in boundaries[0].provenance


def test_a_resumed_run_never_moves_the_bar_back(make_dialog, qtbot):
    run = FakeRun(steps=100, sleep=0.01)
    dlg = make_dialog(run)
    dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.progress_bar.value() >= 300, timeout=10_000)
    with qtbot.waitSignal(dlg.runner.cancelled, timeout=5000):
        dlg.cancel_button.click()
    stopped = dlg.progress_bar.value()
    seen = []
    dlg.progress_bar.valueChanged.connect(seen.append)
    run.steps = 10  # the resumed run reports its own fractions from the start, as a resumed stage does
    with qtbot.waitSignal(dlg.runner.finished, timeout=5000):
        dlg.start_button.click()
    assert seen and min(seen) >= stopped and seen == sorted(seen) and seen[-1] == 1000


def test_a_large_heat_map_scrolls_inside_a_dialog_that_fits_the_screen(make_dialog, qtbot, tmp_path):
    class TallRun(FakeRun):
        def __call__(self, model_path, *, out_dir, **kw):
            summary = super().__call__(model_path, out_dir=out_dir, **kw)
            Image.new("RGB", (900, 3000), (200, 60, 60)).save(out_dir / "boundaries" / "hierarchy.png")
            return summary

    dlg = make_dialog(TallRun(steps=1, sleep=0, write=True))
    with qtbot.waitSignal(dlg.runner.finished, timeout=5000):
        dlg.start_button.click()
    qtbot.waitUntil(lambda: dlg.heatmap_scroll.isVisible(), timeout=5000)
    screen = dlg.screen().availableGeometry()
    assert dlg.frameGeometry().height() <= screen.height() and dlg.frameGeometry().width() <= screen.width()
    heat = dlg.heatmap_scroll.geometry()
    for button in (dlg.start_button, dlg.close_button):
        top = button.mapTo(dlg, QtCore.QPoint(0, 0)).y()
        assert top >= heat.bottom() and top + button.height() <= dlg.height()  # below the map, inside
    assert dlg.heatmap_scroll.verticalScrollBar().maximum() > 0  # the rest of the map is a scroll away
