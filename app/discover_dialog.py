"""*Discover semantics...*: HiGAN's pipeline (``strata.engine.discovery.pipeline.run_discovery``) from the editor.

DiscoverDialog
    A non-modal dialog: the run's settings, Start / Cancel, a progress bar
    with the current step and a time estimate, and, when done, a summary
    and the hierarchy heat map. It emits ``boundariesReady(folder)`` so the
    main window can load the new library. The run itself goes through a
    :class:`~strata.app.discovery_runner.DiscoveryRunner` on a worker thread.

Wiring in the main window::

    dlg = DiscoverDialog(model_path, out_dir=default_folder, device=device, parent=self)
    dlg.boundariesReady.connect(self.open_path)
    dlg.show()
    ...
    dlg.shutdown()   # in MainWindow.closeEvent: stops a run and joins its thread

A cancelled run keeps what it finished on disk (``annotations.npz``,
``rescore.json``); Start with the same folder and settings resumes it.
"""

from __future__ import annotations

import html
import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from strata.engine.discovery.annotate import ANNOTATIONS_FILE
from strata.engine.discovery.pipeline import LIBRARY_DIR

from .discovery_runner import DiscoveryRunner, format_duration, format_eta

__all__ = ["DiscoverDialog", "available_predictor_names"]


def available_predictor_names() -> list[str]:
    """Registered predictors (:func:`strata.engine.discovery.predictors.available_predictors`);
    ``["rooms"]`` when the registry cannot be read."""
    from strata.engine.discovery import predictors

    try:
        names = [str(n) for n in predictors.available_predictors()]
    except Exception:  # a broken installation's metadata: the run will say what is wrong
        return ["rooms"]
    return names or ["rooms"]


def _spin(lo: int, hi: int, value: int, step: int = 1, tip: str = "") -> QtWidgets.QSpinBox:
    box = QtWidgets.QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setGroupSeparatorShown(True)
    box.setToolTip(tip)
    return box


def _dspin(lo: float, hi: float, value: float, step: float, decimals: int,
           tip: str = "") -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class DiscoverDialog(QtWidgets.QDialog):
    """Run HiGAN's discovery on the open generator and show the hierarchy it finds.

    Parameters
    ----------
    model_path : path
        The generator file to analyse.
    out_dir : path, optional
        Default output folder (the caller picks one, e.g. beside the model).
    device : str, optional
        Passed to ``run_discovery`` (default: CUDA when present).
    predictors : sequence of str or predictor objects, optional
        What the predictor box offers; default the registered names
        (:func:`available_predictor_names`). An object is passed to the run
        as it is and listed by its ``name``.
    run_fn : callable, optional
        Replaces ``strata.engine.discovery.pipeline.run_discovery`` (tests).
    parent : QWidget, optional

    Signals
    -------
    boundariesReady(folder)
        A run finished and wrote at least one boundary into ``folder``
        (``out_dir/boundaries``).
    """

    boundariesReady = Signal(str)

    def __init__(self, model_path, out_dir=None, *, device: str | None = None,
                 predictors: Sequence | None = None, run_fn: Callable | None = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Discover semantics")
        self.setModal(False)
        self.model_path = Path(model_path)
        self.device = device
        self.ask_before_stopping = True  # closing while running asks first (tests turn it off)
        self._close_when_stopped = False
        self._t_start = 0.0
        self._out_of_run: Path | None = None
        self._pixmap: QtGui.QPixmap | None = None
        self._run_key: tuple | None = None  # (folder, settings) of the last run, to tell a resume
        self._progress_floor = 0
        self.runner = DiscoveryRunner(run_fn, self)
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self._predictors = list(predictors) if predictors is not None else available_predictor_names()
        self._build(out_dir)
        self._set_running(False)

    # ------------------------------------------------------------------ layout

    def _build(self, out_dir) -> None:
        intro = QtWidgets.QLabel(
            "Finds which semantics this generator controls and at which layers (HiGAN): "
            "scores N random scenes with a predictor, fits a boundary per semantic, then moves "
            "M fresh scenes along it layer by layer to see where it acts.<br>"
            "<b>Cancel</b> keeps the work done on disk; <b>Start</b> again with the same folder "
            "and settings resumes it.")
        intro.setWordWrap(True)
        intro.setTextFormat(QtCore.Qt.RichText)
        self.model_label = QtWidgets.QLabel()
        self.model_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)

        self.predictor_combo = QtWidgets.QComboBox()
        for p in self._predictors:
            self.predictor_combo.addItem(p if isinstance(p, str) else str(getattr(p, "name", p)))
        self.predictor_combo.setToolTip("What scores each scene: a registered predictor")
        self.n_spin = _spin(10, 10_000_000, 20000, 1000, "Scenes to sample and score (HiGAN: 500,000)")
        self.m_spin = _spin(1, 1_000_000, 500, 100, "Fresh scenes moved along each boundary (HiGAN: 500)")
        self.lam_spin = _dspin(0.1, 50.0, 2.0, 0.5, 2, "How far each scene is moved (HiGAN: 2)")
        self.top_spin = _dspin(0.001, 0.5, 0.02, 0.005, 3,
                               "Fraction of scenes taken as positives, and as negatives (HiGAN: 2%)")
        self.seed_spin = _spin(0, 2**31 - 1, 0, 1, "Seed of the sampled codes and the split")
        self.batch_spin = _spin(1, 4096, 64, 16, "Images per forward pass")
        self.out_edit = QtWidgets.QLineEdit("" if out_dir is None else str(out_dir))
        self.out_edit.setPlaceholderText("folder for annotations, boundaries and the report")
        self.out_edit.textChanged.connect(self._update_hint)
        self.browse_button = QtWidgets.QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose the output folder")
        try:
            import qtawesome as qta
            self.browse_button.setIcon(qta.icon("fa5s.folder-open"))
        except Exception:  # an icon is a nicety
            pass
        self.browse_button.clicked.connect(self._browse)
        out_row = QtWidgets.QHBoxLayout()
        out_row.setContentsMargins(0, 0, 0, 0)
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.browse_button)

        # One grid, so that the labels of the single fields and of the pairs line up.
        form = QtWidgets.QGridLayout()
        form.setHorizontalSpacing(10)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)

        def label(text: str, buddy: QtWidgets.QWidget) -> QtWidgets.QLabel:
            lab = QtWidgets.QLabel(text)
            lab.setBuddy(buddy)
            return lab

        form.addWidget(QtWidgets.QLabel("Model:"), 0, 0)
        form.addWidget(self.model_label, 0, 1, 1, 3)
        form.addWidget(label("&Predictor:", self.predictor_combo), 1, 0)
        form.addWidget(self.predictor_combo, 1, 1)
        for row, col, text, box in ((2, 0, "Samples &N:", self.n_spin),
                                    (2, 2, "Rescoring &M:", self.m_spin),
                                    (3, 0, "Step &λ:", self.lam_spin),
                                    (3, 2, "Top &k fraction:", self.top_spin),
                                    (4, 0, "S&eed:", self.seed_spin),
                                    (4, 2, "&Batch size:", self.batch_spin)):
            form.addWidget(label(text, box), row, col)
            form.addWidget(box, row, col + 1)
        form.addWidget(label("&Output folder:", self.out_edit), 5, 0)
        form.addLayout(out_row, 5, 1, 1, 3)
        self.hint_label = QtWidgets.QLabel()
        hint_palette = self.hint_label.palette()
        hint_palette.setColor(QtGui.QPalette.WindowText, hint_palette.color(QtGui.QPalette.PlaceholderText))
        self.hint_label.setPalette(hint_palette)
        form.addWidget(self.hint_label, 6, 1, 1, 3)
        self._fields = [self.predictor_combo, self.n_spin, self.m_spin, self.lam_spin, self.top_spin,
                        self.seed_spin, self.batch_spin, self.out_edit, self.browse_button]

        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.status_label = QtWidgets.QLabel("Ready.")
        self.status_label.setMinimumWidth(200)
        self.status_label.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.eta_label = QtWidgets.QLabel()
        self.eta_label.setAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        status_row = QtWidgets.QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.eta_label)
        self.error_label = QtWidgets.QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.hide()

        self.summary_label = QtWidgets.QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(QtCore.Qt.RichText)
        self.summary_label.setOpenExternalLinks(True)
        self.summary_label.setTextInteractionFlags(QtCore.Qt.TextBrowserInteraction)
        self.summary_label.hide()
        self.heatmap_label = QtWidgets.QLabel()
        self.heatmap_label.setAlignment(QtCore.Qt.AlignCenter)
        self.heatmap_scroll = QtWidgets.QScrollArea()
        self.heatmap_scroll.setWidget(self.heatmap_label)
        self.heatmap_scroll.setWidgetResizable(True)
        self.heatmap_scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.heatmap_scroll.hide()

        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch; the work done stays on disk")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QtWidgets.QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.close_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addSpacing(4)
        layout.addWidget(self.progress_bar)
        layout.addLayout(status_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.heatmap_scroll, 1)
        layout.addLayout(buttons)
        # The heat map scrolls inside the dialog rather than growing it past the screen: the layout
        # keeps every row at its minimum and the buttons below it (see _fit_screen).
        self.set_model_path(self.model_path)
        self._update_hint()
        self.resize(580, self.sizeHint().height())

    # ------------------------------------------------------------------ public

    def set_model_path(self, path) -> None:
        """The generator the next Start analyses (a running run keeps its own)."""
        self.model_path = Path(path)
        self.model_label.setText(self.model_path.name)
        self.model_label.setToolTip(str(self.model_path))

    def out_dir(self) -> Path | None:
        text = self.out_edit.text().strip()
        return Path(text).expanduser() if text else None

    def predictor(self):
        """The chosen predictor: a registered name or an object."""
        i = self.predictor_combo.currentIndex()
        return self._predictors[i] if 0 <= i < len(self._predictors) else "rooms"

    def options(self) -> dict:
        """The keyword arguments the next Start passes to ``run_discovery`` (besides the folder)."""
        opts = dict(predictor=self.predictor(), n=self.n_spin.value(), m=self.m_spin.value(),
                    lam=self.lam_spin.value(), k=self.top_spin.value(), seed=self.seed_spin.value(),
                    batch_size=self.batch_spin.value(), device=self.device)
        opts["command"] = self._command(opts)
        return opts

    def is_running(self) -> bool:
        return self.runner.is_running()

    def start(self) -> None:
        """Start (or resume) a run with the dialog's settings."""
        if self.runner.is_running():
            return
        out = self.out_dir()
        if out is None:
            self._show_error("Choose an output folder first.")
            return
        self._clear_result()
        # The same folder and settings resume the run: the bar starts where the last one stopped and
        # never goes back (a resumed stage reports from the work it still has, not from zero).
        key = (str(out), repr(sorted(self.options().items(), key=lambda kv: kv[0])))
        self._progress_floor = self.progress_bar.value() if key == self._run_key else 0
        self._run_key = key
        self._out_of_run = out
        self._t_start = time.monotonic()
        self.progress_bar.setValue(self._progress_floor)
        self.status_label.setText("Loading the model and the predictor…")
        self.eta_label.setText("")
        self.runner.start(self.model_path, out, **self.options())
        self._set_running(True)

    def cancel(self) -> None:
        """Stop the run after its current batch; what it finished stays on disk."""
        if not self.runner.is_running():
            return
        self.runner.cancel()
        self.cancel_button.setEnabled(False)
        self.status_label.setText("Stopping after this batch…")
        self.eta_label.setText("")

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop a run and join its thread (blocking); for the main window's ``closeEvent``."""
        if not self.runner.is_running():
            return True
        self.runner.cancel()
        return self.runner.wait(timeout)

    def reject(self) -> None:  # Close button, Escape and the window's close box all land here
        if self.runner.is_running():
            if self.ask_before_stopping and not self._confirm_stop():
                return
            self._close_when_stopped = True
            self.cancel()
            return
        super().reject()

    # ------------------------------------------------------------------ runner signals

    def _on_progress(self, fraction: float, message: str, eta: float) -> None:
        self.progress_bar.setValue(max(int(round(fraction * 1000)), self._progress_floor, self.progress_bar.value()))
        if not self.runner.stopping():
            self.status_label.setText(message[:1].upper() + message[1:])
            self.status_label.setToolTip(message)
            self.eta_label.setText(format_eta(eta) if eta >= 0 else "estimating time left…")

    def _on_finished(self, summary) -> None:
        self._set_running(False)
        self.progress_bar.setValue(1000)
        out = self._out_of_run or self.out_dir() or Path(".")
        summary = summary if isinstance(summary, dict) else {}
        library = Path(summary.get("library") or out / LIBRARY_DIR)
        rows = summary.get("boundaries")
        files = sorted(library.glob("*.npz")) if library.is_dir() else []
        found = sum(1 for r in rows if r.get("layers") is not None) if rows is not None else len(files)
        missing = len(rows) - found if rows is not None else 0
        took = summary.get("seconds", {}).get("total", time.monotonic() - self._t_start)
        self.status_label.setText(f"Done in {format_duration(took)}.")
        self.eta_label.setText("")
        text = (f"Found <b>{found}</b> boundar{'y' if found == 1 else 'ies'}"
                + (f" ({missing} semantic{'s' if missing != 1 else ''} without one)" if missing else "")
                + f", written to <a href=\"{QtCore.QUrl.fromLocalFile(str(library)).toString()}\">"
                + f"{html.escape(str(library))}</a>.")
        if files and self.receivers(QtCore.SIGNAL("boundariesReady(QString)")) > 0:
            text += " They are added to the window as a new boundary set (<b>Set</b>, above the rows)."
        self.summary_label.setText(text)
        self.summary_label.show()
        self._show_heatmap(library, out)
        if files:
            self.boundariesReady.emit(str(library))
        self._maybe_close()

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.status_label.setText("Failed.")
        self.eta_label.setText("")
        self._show_error(message)
        self._maybe_close()

    def _on_cancelled(self) -> None:
        self._set_running(False)
        self.status_label.setText("Stopped. The work done is saved; Start resumes it.")
        self.eta_label.setText("")
        self._maybe_close()

    # ------------------------------------------------------------------ helpers

    def _maybe_close(self) -> None:
        if self._close_when_stopped:
            self._close_when_stopped = False
            super().reject()

    def _confirm_stop(self) -> bool:
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Question, "Stop discovery?",
            "A discovery run is in progress. Stop it and close?\n\n"
            "The work done stays in the output folder; Start with the same folder resumes it.",
            parent=self)
        stop = box.addButton("Stop and close", QtWidgets.QMessageBox.AcceptRole)
        box.addButton("Keep running", QtWidgets.QMessageBox.RejectRole)
        box.exec()
        return box.clickedButton() is stop

    def _set_running(self, running: bool) -> None:
        for w in self._fields:
            w.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self._update_hint()

    def _update_hint(self) -> None:
        out = self.out_dir()
        if out is not None and (out / ANNOTATIONS_FILE).exists():
            self.hint_label.setText("This folder holds an earlier run: Start resumes it "
                                    "(keep N and the seed).")
            self.hint_label.setToolTip("What is done is reused. Choose another folder for a fresh run.")
        else:
            self.hint_label.setText("")
        self.hint_label.setVisible(bool(self.hint_label.text()))

    def _clear_result(self) -> None:
        self.error_label.hide()
        self.error_label.clear()
        self.summary_label.hide()
        self.heatmap_scroll.hide()
        self.heatmap_label.clear()
        self._pixmap = None

    def _show_error(self, message: str) -> None:
        line = " ".join(str(message).split())  # one line, whatever the exception held
        self.error_label.setText(line)
        self.error_label.setToolTip(str(message))
        self.error_label.show()

    def _show_heatmap(self, library: Path, out: Path) -> None:
        for path in (library / "hierarchy.png", out / "hierarchy.png"):
            if path.is_file():
                pixmap = QtGui.QPixmap(str(path))
                if not pixmap.isNull():
                    break
        else:
            return
        self._pixmap = pixmap
        width = min(pixmap.width(), 640)
        if width < pixmap.width():
            pixmap = pixmap.scaledToWidth(width, QtCore.Qt.SmoothTransformation)
        self.heatmap_label.setPixmap(pixmap)
        self.heatmap_label.setToolTip(str(path))
        self.heatmap_scroll.setMinimumHeight(min(pixmap.height() + 4, 120))
        self.heatmap_scroll.show()
        self._fit_screen(QtCore.QSize(pixmap.width() + 4, pixmap.height() + 4))

    def _fit_screen(self, heatmap: QtCore.QSize) -> None:
        """Grow to show the heat map whole where the screen has room, never past the screen."""
        screen = (self.screen() or QtWidgets.QApplication.primaryScreen()).availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()  # the title bar and borders
        extra = QtCore.QSize(max(0, heatmap.width() - self.heatmap_scroll.width()),
                             max(0, heatmap.height() - self.heatmap_scroll.height()))
        want = self.size() + extra
        self.resize(min(want.width(), screen.width() - frame.width()),
                    min(max(want.height(), self.minimumSizeHint().height()), screen.height() - frame.height()))

    def _browse(self) -> None:
        start = str(self.out_dir() or self.model_path.parent)
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Output folder", start)
        if path:
            self.out_edit.setText(path)

    def _command(self, opts: dict) -> str:
        """The ``strata analyze`` line that does (and resumes) the same run, for provenance."""
        pred = opts["predictor"]
        args = ["strata", "analyze", "--model", str(self.model_path),
                "--predictor", pred if isinstance(pred, str) else str(getattr(pred, "name", pred)),
                "-n", str(opts["n"]), "-m", str(opts["m"]), "--lam", f"{opts['lam']:g}",
                "--top", f"{opts['k']:g}", "--seed", str(opts["seed"]),
                "--batch-size", str(opts["batch_size"])]
        if opts.get("device"):
            args += ["--device", str(opts["device"])]
        args += ["-o", str(self.out_dir() or "")]
        return " ".join(shlex.quote(a) for a in args)
