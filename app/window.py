"""The main window: wires the widgets to the editor and the engine adapter, and nothing more.

Its parts that are not wiring are mixins of their own modules: opening and
saving (``window_files``), the preview strip and the before image
(``window_preview``), crash recovery and the unsaved-changes prompt
(``window_session``), and Help (``window_help``).

The editing rules live in :class:`~strata.app.editor.Editor` (no Qt): every
user change becomes a call there, then the window pushes the present state
into the widgets (signals blocked) and asks the engine for a frame; the
engine answers on its own thread, the newest frame wins, and
:meth:`Editor.take_result` says what to show.
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6 import QtCore, QtGui, QtWidgets
from superqt.utils import qdebounced, signals_blocked

from strata.engine.core.boundary import Boundary, load_boundaries
from strata.engine.core.errors import StrataError
from strata.engine.core.render import RenderResult
from strata.engine.core.strip import StripResult
from strata.widgets import PreviewStrip, SceneView, SeedBox, SemanticPanel, TransformBox, TruncationBox
from strata.widgets.message_bar import MessageBar
from strata.widgets.set_bar import BoundarySetBar

from . import files
from .editor import Editor, EditorState, Reaction, heat_map, panel_rows
from .engine_adapter import EngineAdapter
from .journal import Journal
from .window_files import FilesMixin
from .window_help import HelpMixin
from .window_preview import PreviewMixin
from .window_session import SessionMixin

__all__ = ["MainWindow"]


class MainWindow(FilesMixin, PreviewMixin, SessionMixin, HelpMixin, QtWidgets.QMainWindow):
    firstFrame = QtCore.Signal()

    def __init__(self, model_path: str | Path, boundaries: list[Boundary] | None = None, *,
                 title: str = "", device: str | None = None, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.settings = settings or QtCore.QSettings(str(files.settings_path()), QtCore.QSettings.IniFormat)
        self.engine = EngineAdapter(device, self)
        self.engine.resultReady.connect(self._on_result)
        self.editor = Editor(model_path, boundaries or [])
        self._model_title = title
        self._strip_result: StripResult | None = None  # the last preview strip, whole, for Export
        self._discover = None
        self._row_keys: list[tuple] = []  # the boundaries the panel's rows were built for
        self._before_stamp: int | None = None  # the strip-thread request of the unedited scene
        self._before_for: tuple | None = None  # what the before image shows (see _before_key)
        # Crash recovery: the history is journaled (atomically) once the hand rests after a change.
        self.journal = Journal()
        self._journal_failed = False
        self._journal_timer = QtCore.QTimer(self, singleShot=True, interval=300)
        self._journal_timer.timeout.connect(self._record_journal)
        self.live_preview_seconds = 0.1  # slower exact frames: reduced precision while a slider moves
        # The last few exact frame times: their least, so that a frame that also loaded the model
        # does not make a fast model look slow.
        self._exact_seconds: list[float] = []
        self._settle = QtCore.QTimer(self, singleShot=True, interval=250)  # the hand rests: exact frame
        self._settle.timeout.connect(lambda: self._request())

        self._build_ui()
        self._build_actions()
        self.setAcceptDrops(True)
        # A focused number field would take Ctrl+Z for its own text; the editor's undo must win.
        QtWidgets.QApplication.instance().installEventFilter(self)
        self.resize(1280, 760)
        for key, _, restore in self._remembered_layout():
            value = self.settings.value(key)
            if value is not None:
                restore(value)
        self.strip_action.setChecked(str(self.settings.value("window/strip", "true")).lower() != "false")
        self.view.install_compare_key(self)  # hold backslash anywhere in the window (not in a text field)
        self._update_title()
        self.view.set_message("Loading model…")
        self._request()

    # ------------------------------------------------------------------ UI

    def _build_ui(self) -> None:
        self.view = SceneView()
        self.seed_box = SeedBox()
        self.psi_box = TruncationBox()
        self.panel = SemanticPanel()

        # Shown only for class-conditional models (NVIDIA's c_dim > 0).
        self.class_label = QtWidgets.QLabel("Class")
        self.class_box = QtWidgets.QSpinBox()
        self.class_box.setToolTip("The class a class-conditional model draws")
        self.class_label.setBuddy(self.class_box)
        self.class_label.hide()
        self.class_box.hide()
        # StyleGAN3 only: a row above the semantic rows that moves and turns the input.
        self.transform_box = TransformBox()
        self.transform_box.hide()

        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(self.seed_box)
        controls.addSpacing(16)
        controls.addWidget(self.class_label)
        controls.addWidget(self.class_box)
        controls.addStretch(1)

        # The preview strip sits under the scene, so opening it never pushes rows out of view;
        # the splitter handle (or View > Preview strip) folds it away.
        self.strip = PreviewStrip()
        scene_split = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        scene_split.addWidget(self.view)
        scene_split.addWidget(self.strip)
        scene_split.setStretchFactor(0, 1)
        scene_split.setStretchFactor(1, 0)
        scene_split.setCollapsible(0, False)
        scene_split.setObjectName("sceneSplitter")

        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        lv.addWidget(scene_split, 1)
        lv.addLayout(controls)
        lv.addWidget(self.psi_box)  # a row of its own: the full width makes a drag a fine adjustment

        # Boundary sets (a discovery adds one) are chosen above the rows; hidden while there is one.
        self.set_bar = BoundarySetBar()
        self.set_bar.hide()
        right = QtWidgets.QWidget()
        rv = QtWidgets.QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        # Refused boundaries and dropped rows: said here until dismissed, not for seconds in the status bar.
        self.message_bar = MessageBar()
        rv.addWidget(self.message_bar)
        rv.addWidget(self.set_bar)
        rv.addWidget(self.transform_box)
        rv.addWidget(self.panel, 1)

        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 4)
        split.setObjectName("mainSplitter")
        self.setCentralWidget(split)
        self._splitters = {"main": split, "scene": scene_split}

        self.status_time = QtWidgets.QLabel("")
        self.status_device = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.status_time)
        self.statusBar().addPermanentWidget(self.status_device)

        self.seed_box.seedChanged.connect(self._on_seed)
        self.psi_box.psiChanged.connect(self._on_psi)
        self.class_box.valueChanged.connect(self._on_class)
        self.transform_box.transformChanged.connect(self._on_transform)
        self.panel.rowChanged.connect(self._on_row_changed)
        self.panel.rowReset.connect(self._on_row_reset)
        self.panel.rowSelected.connect(lambda i: self._request_strip())  # a new row's strip at once
        self.set_bar.setChosen.connect(self._on_set_chosen)
        self.set_bar.mergeRequested.connect(self._on_set_merge)
        self.set_bar.removeRequested.connect(self._on_set_remove)
        self.view.saveRequested.connect(lambda: self.save_as())
        self.view.copyRecipeRequested.connect(self.copy_recipe)
        self.view.imageCopied.connect(lambda: self.statusBar().showMessage("Copied the scene image", 3000))
        self.view.compareStarted.connect(self._request_before)
        self.strip.strengthPicked.connect(self._on_strip_pick)
        self.strip.exportRequested.connect(self.export_strip_dialog)
        self.engine.stripReady.connect(self._on_strip)
        # A strip costs several frames: refresh it once the hand rests, not on every move.
        self._refresh_strip = qdebounced(self._request_strip, timeout=300, parent=self)

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")

        def act(text, slot, shortcut=None, icon=None, menu=file_menu):
            a = QtGui.QAction(text, self)
            if icon:
                a.setIcon(qta.icon(icon))
            if shortcut:
                a.setShortcut(shortcut)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        act("&Open…", self.open_dialog, QtGui.QKeySequence.Open, "fa5s.folder-open")
        act("Open &boundary folder…", self.open_boundary_folder_dialog, None, "fa5s.folder")
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._refresh_recent()
        file_menu.addSeparator()
        act("&Save scene", self.save, QtGui.QKeySequence.Save, "fa5s.save")
        act("Save scene &as…", lambda checked=False: self.save_as(), QtGui.QKeySequence.SaveAs)
        up = file_menu.addMenu("Save &upscaled")
        for f in (2, 4, 8):
            act(f"{f}× PNG…", lambda checked=False, f=f: self.save_as(upscale=f), menu=up)
        act("Save &recipe (JSON)…", self.save_recipe_dialog)
        file_menu.addSeparator()
        act("&Import code (.npy)…", self.import_code_dialog, None, "fa5s.file-import")
        act("&Export wp code (.npy)…", self.export_wp_dialog, None, "fa5s.file-export")
        file_menu.addSeparator()
        act("&Quit", self.close, QtGui.QKeySequence.Quit)

        edit_menu = menu.addMenu("&Edit")
        self.undo_action = act("&Undo", self.undo, QtGui.QKeySequence.Undo, "fa5s.undo", edit_menu)
        self.redo_action = act("&Redo", self.redo, QtGui.QKeySequence("Ctrl+Shift+Z"), "fa5s.redo", edit_menu)
        edit_menu.addSeparator()
        # The view's own actions, made window-wide: Ctrl+C copies the scene from anywhere but a text
        # field (a focused field takes Ctrl+C for its own text first).
        for name, keys in (("copy_image", [QtGui.QKeySequence.Copy]),
                           ("copy_recipe", [QtGui.QKeySequence("Ctrl+Shift+C")])):
            a = self.view.action(name)
            a.setShortcuts(keys)
            a.setShortcutContext(QtCore.Qt.WindowShortcut)
            edit_menu.addAction(a)
        edit_menu.addSeparator()
        act("Reset all &sliders", self.reset_all, None, "fa5s.eraser", edit_menu)

        view_menu = menu.addMenu("&View")
        for name, keys in (("fit", ["Ctrl+0"]), ("actual_size", ["Ctrl+1"]), ("zoom_in", ["Ctrl+=", "Ctrl++"]),
                           ("zoom_out", ["Ctrl+-"]), ("smooth", [])):
            a = self.view.action(name)
            a.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            a.setShortcutContext(QtCore.Qt.WindowShortcut)
            view_menu.addAction(a)
        compare = view_menu.addMenu("&Compare with unedited")
        for name in ("compare_off", "compare_hold", "compare_split"):
            compare.addAction(self.view.action(name))
        view_menu.addSeparator()
        self.strip_action = QtGui.QAction("&Preview strip", self, checkable=True, checked=True)
        self.strip_action.setShortcut(QtGui.QKeySequence("Ctrl+T"))
        self.strip_action.setToolTip("Show the selected row at seven strengths under the scene (Ctrl+T)")
        self.strip_action.toggled.connect(self._show_strip)
        view_menu.addAction(self.strip_action)

        analysis_menu = menu.addMenu("&Analysis")
        act("&Discover semantics…", self.discover_dialog, QtGui.QKeySequence("Ctrl+D"), "fa5s.search", analysis_menu)

        help_menu = menu.addMenu("&Help")
        self.shortcuts_action = act("&Keyboard shortcuts", self.show_shortcuts, None, "fa5s.keyboard", help_menu)
        self.shortcuts_action.setShortcuts([QtGui.QKeySequence(QtGui.QKeySequence.HelpContents),
                                            QtGui.QKeySequence("Ctrl+/")])
        act("&Documentation", self.open_docs, None, "fa5s.book", help_menu)
        help_menu.addSeparator()
        act("&About Strata", self.show_about, None, "fa5s.info-circle", help_menu)
        self._sync_undo_actions()
        self._tooltips_with_shortcuts()

    # ------------------------------------------------------------------ state

    @property
    def history(self):
        return self.editor.history

    @property
    def state(self) -> EditorState:
        return self.editor.state

    @property
    def scene(self):
        return self.editor.scene

    def _changed(self, live: bool = False) -> None:
        """After any change of the present state: undo actions and the title follow, a frame is asked for.

        ``live``: the change comes from a slider while it moves.
        """
        self._sync_undo_actions()
        self.setWindowModified(self.editor.modified)
        self._request(live)
        self._refresh_before()
        self._journal_timer.start()

    def _request(self, live: bool = False) -> None:
        """Ask for a frame of the present state.

        While a slider moves on a model too slow to follow it (an exact frame took longer than
        ``live_preview_seconds``), the frames are reduced precision ("fast"); once the hand rests for
        ``settle_ms`` the exact frame is asked for, and it is the one left on screen (latest wins).
        """
        fast = live and self._exact_seconds and min(self._exact_seconds) > self.live_preview_seconds
        self.engine.request(self.state.model_path, self.scene, "fast" if fast else "exact")
        if fast:
            self._settle.start()
        else:
            self._settle.stop()
        self._refresh_strip()

    def _sync_undo_actions(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())

    def _sync_widgets(self) -> None:
        """Push the present state into the widgets (they emit nothing while set)."""
        scene = self.scene
        if scene.code.seed is not None:
            self.seed_box.set_seed(scene.code.seed)
        self.psi_box.set_psi(scene.psi)
        classes = self.editor.model.num_classes if self.editor.model is not None else 0
        self.class_label.setVisible(classes > 0)
        self.class_box.setVisible(classes > 0)
        with signals_blocked(self.class_box):
            self.class_box.setRange(0, max(classes - 1, 0))
            self.class_box.setValue(scene.class_index or 0)
        self.transform_box.setVisible(self.editor.model is not None and self.editor.model.input_transform)
        self.transform_box.set_transform(scene.input_transform)
        self.set_bar.set_sets(self.editor.set_names, self.editor.active_set)
        self.set_bar.setVisible(len(self.editor.set_names) > 1)
        # Rows are rebuilt when their boundaries differ, not only their names: an undone discovery
        # brings back boundaries of the same names with other levels, tints and reset layers.
        if self._row_keys != self._keys_of(scene):
            self._rebuild_rows()
        else:
            for i, e in enumerate(scene.edits):
                self.panel.set_row_values(i, e.strength, e.layers)

    @staticmethod
    def _keys_of(scene) -> list[tuple]:
        return [(e.boundary.fingerprint, e.boundary.level) for e in scene.edits]

    def _rebuild_rows(self) -> None:
        self.panel.set_rows(panel_rows(self.scene, self.editor.num_layers))
        self.panel.set_heat(heat_map(self.scene, self.editor.num_layers))
        self._row_keys = self._keys_of(self.scene)

    # ------------------------------------------------------------------ user changes

    def _on_seed(self, seed: int) -> None:
        if self.editor.set_seed(seed):
            self._changed()

    def _on_psi(self, psi: float) -> None:
        if self.editor.set_psi(psi):
            self._changed(live=True)

    def _on_class(self, class_index: int) -> None:
        if self.editor.set_class(class_index):
            self._changed()

    def _on_transform(self, transform: tuple) -> None:
        if self.editor.set_input_transform(transform):
            self._changed(live=True)

    def _on_row_changed(self, index: int, values: dict) -> None:
        if self.editor.set_row(index, float(values["strength"]), values["layers"]):
            self._changed(live=True)

    def _on_row_reset(self, index: int) -> None:
        if self.editor.reset_row(index):
            self._changed()
        self._sync_widgets()

    def _on_set_chosen(self, index: int) -> None:
        if self.editor.switch_set(index):
            self._after_history_move()

    def _on_set_merge(self, index: int) -> None:
        added = self.editor.merge_set(index)
        if added:
            self._after_history_move()
        self.statusBar().showMessage(f"Added {added} row(s) from {self.editor.set_names[index]}"
                                     if added else "Those rows are all here already", 5000)

    def _on_set_remove(self, index: int) -> None:
        name = self.editor.set_names[index]
        if self.editor.remove_set(index):
            self._after_history_move()
            self.statusBar().showMessage(f"Removed set {name} (Ctrl+Z brings it back)", 5000)

    def add_discovered(self, folder: str | Path) -> None:
        """A discovery's boundaries arrive as a new set beside the rows; nothing the user set changes.

        Where the rows are empty there is nothing to keep, and the new set is shown at once.
        """
        import time

        try:
            boundaries, errors = load_boundaries(folder)
            if not boundaries:
                raise StrataError(errors[0] if errors else f"{folder}: no boundaries found")
            count, msgs = self.editor.add_set(f"Discovery {time.strftime('%H:%M')}", boundaries)
        except StrataError as exc:
            self._show_error(str(exc))
            return
        name = self.editor.set_names[-1]
        if not self.scene.edits:
            self.editor.switch_set(len(self.editor.set_names) - 1)
            self._after_history_move()
            self.statusBar().showMessage(f"Discovery found {count} boundaries: they are the rows now", 8000)
        else:
            self._after_history_move()
            index = len(self.editor.set_names) - 1
            self.message_bar.show_message(
                f"Discovery found {count} boundaries. They are kept as the set \"{name}\" beside your rows, "
                "which are unchanged: pick a set above the rows, or add its rows to yours.", "Show them",
                lambda: self._on_set_chosen(index) if self.editor.set_names[index:index + 1] == [name] else None)
        for m in errors + msgs:
            self._warn(m)

    def reset_all(self) -> None:
        if self.editor.reset_all():
            self._changed()
        self._sync_widgets()

    def undo(self) -> None:
        if self.editor.undo():
            self._after_history_move()

    def redo(self) -> None:
        if self.editor.redo():
            self._after_history_move()

    def _after_history_move(self) -> None:
        self._changed()
        self._sync_widgets()
        self._update_title()

    # ------------------------------------------------------------------ engine results

    def _on_result(self, result: RenderResult) -> None:
        r: Reaction = self.editor.take_result(result)
        if r.frame:
            last = self.editor.last
            if last.exact:
                self._exact_seconds = (self._exact_seconds + [last.seconds])[-3:]
            self.view.set_message("")
            self.view.set_image(last.image)
            self.view.set_overlay("" if last.exact else f"preview ({last.precision})")
            self.status_time.setText(f"{last.seconds * 1000:.0f} ms / frame"
                                     + ("" if last.exact else f", {last.precision} preview"))
            self.status_device.setText(last.model.device)
        if r.fitted:
            info = self.editor.model
            self.panel.set_num_layers(info.num_layers)
            self.panel.set_layer_resolutions(list(info.layer_resolutions))
            self._rebuild_rows()
        if r.fitted or r.restored:
            self._sync_undo_actions()
            self._sync_widgets()
        for note in r.notes:
            self._warn(note)
        if r.error:
            if r.alert:
                self._show_error(r.error)
            else:  # a failed frame (e.g. out of memory): once in the status bar, no modal box per frame
                self.statusBar().showMessage(f"Error: {r.error.splitlines()[0]}", 15000)
            if self.editor.last is None:
                self.view.set_message(r.error)
        self._update_title()
        if r.render:
            self._request()
        if r.first_frame:
            self.firstFrame.emit()

    def _warn(self, message: str) -> None:
        """Something the user must see but need not stop for: the message bar, until dismissed."""
        self.statusBar().showMessage(message.splitlines()[0] if message else "", 8000)
        self.message_bar.show_message(message)

    def _show_error(self, message: str) -> None:
        first = message.splitlines()[0] if message else "unknown error"
        self.statusBar().showMessage(f"Error: {first}", 15000)
        self.message_bar.show_message(first)  # stays after the box is closed, until dismissed
        if not getattr(self, "quiet_errors", False):
            QtWidgets.QMessageBox.warning(self, "Strata", message)

    # ------------------------------------------------------------------ title, discovery, window

    def _update_title(self) -> None:
        from strata import assets
        self.setWindowTitle(self.editor.title(default_title=self._model_title,
                                              default_path=str(assets.default_model_path().resolve())))
        self.setWindowModified(self.editor.modified)

    def discover_dialog(self) -> None:
        """Run the HiGAN pipeline on the current model in the background; load its boundaries."""
        from .discover_dialog import DiscoverDialog

        # One dialog per window: a run still going (or still stopping) is brought back, not orphaned.
        if self._discover is not None and (self._discover.isVisible() or self._discover.runner.is_running()):
            self._discover.show()
            self._discover.raise_()
            return
        info = self.editor.model
        if info is None:
            self._show_error("open a model first")
            return
        out = files.discoveries_dir(info.fingerprint)
        self._discover = DiscoverDialog(info.path, out_dir=str(out), device=self.engine.renderer.device.type,
                                        parent=self)
        self._discover.boundariesReady.connect(self.add_discovered)
        self._discover.show()

    def _remembered_layout(self) -> list[tuple]:
        """(settings key, save, restore) for each part of the layout the window keeps between runs."""
        return [("window/geometry", self.saveGeometry, self.restoreGeometry),
                ("window/state", self.saveState, self.restoreState),
                *((f"window/splitter_{key}", sp.saveState, sp.restoreState) for key, sp in self._splitters.items())]

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        # Ctrl+Z in a number field: while the user is typing (text not yet committed), it undoes
        # the typing, as in any text field; otherwise it is the document's undo (a committed value
        # is an editor step, and a focused field must not swallow it).
        if ev.type() == QtCore.QEvent.ShortcutOverride and isinstance(obj, QtWidgets.QWidget) \
                and isinstance(obj, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox)) and obj.window() is self:
            redo = ev.matches(QtGui.QKeySequence.Redo) or ev.keyCombination() == QtCore.QKeyCombination(
                QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier, QtCore.Qt.Key_Z)
            if ev.matches(QtGui.QKeySequence.Undo) or redo:
                edit = obj if isinstance(obj, QtWidgets.QLineEdit) else obj.lineEdit()
                typing = edit is not None and edit.isModified() and (
                    edit.isRedoAvailable() if redo else edit.isUndoAvailable())
                if typing:
                    ev.accept()  # the field's own undo of its text
                    return False
                ev.ignore()  # not the field's: the window's Undo / Redo actions take it
                return True
        return super().eventFilter(obj, ev)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.editor.modified and not getattr(self, "discard_on_close", False):
            answer = self.ask_unsaved()
            if answer == QtWidgets.QMessageBox.StandardButton.Cancel or (
                    answer == QtWidgets.QMessageBox.StandardButton.Save and not self.save()):
                event.ignore()  # the user stays, with every edit
                return
        QtWidgets.QApplication.instance().removeEventFilter(self)
        self._refresh_strip.cancel()
        self._settle.stop()
        self._journal_timer.stop()
        self.journal.clear()  # a clean exit: nothing to recover at the next start
        if self._discover is not None:
            self._discover.shutdown()
        for key, save, _ in self._remembered_layout():
            self.settings.setValue(key, save())
        self.settings.sync()
        self.engine.close()
        super().closeEvent(event)
