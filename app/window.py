"""The main window: wires the widgets to the engine adapter, and nothing more.

State lives in one value, :class:`EditorState` (model path + scene), kept in
a :class:`~app.history.History` for undo/redo. Every user change makes a new
state, pushes it, updates the widgets (signals blocked) and asks the engine
for a frame; the engine answers on its own thread, and the newest frame wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import qtawesome as qta
from PySide6 import QtCore, QtGui, QtWidgets

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.boundary import LEVELS, Boundary, load_boundaries
from strata.engine.core.edits import Edit
from strata.engine.core.errors import StrataError
from strata.engine.core.render import ModelInfo, RenderResult
from strata.engine.core.scene import (Code, ModelRef, Scene, load_code_npy, png_bytes_with_recipe, read_recipe,
                          save_wp_npy, write_recipe_json)
from strata.engine.core.strip import DEFAULT_STRENGTHS, StripResult, save_strip
from strata.widgets import PreviewStrip, SceneView, SeedBox, SemanticPanel, TruncationBox

from .engine_adapter import EngineAdapter
from .history import History
from .resolve import find_model

MODEL_SUFFIXES = {".pth", ".pt", ".ckpt"}
RECIPE_SUFFIXES = {".png", ".json"}
BOUNDARY_SUFFIXES = {".npy", ".npz"}
MAX_RECENT = 10


@dataclass(frozen=True, eq=False)
class EditorState:
    model_path: str
    scene: Scene


class MainWindow(QtWidgets.QMainWindow):
    firstFrame = QtCore.Signal()

    def __init__(self, model_path: str | Path, boundaries: list[Boundary] | None = None, *,
                 title: str = "", device: str | None = None, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.settings = settings or QtCore.QSettings("Strata", "Strata")
        self.engine = EngineAdapter(device, self)
        self.engine.resultReady.connect(self._on_result)
        self._model_title = title
        self._info: ModelInfo | None = None
        self._pending_boundaries: list[Boundary] = list(boundaries or [])
        self._wp: np.ndarray | None = None
        self._save_path: Path | None = None
        self._had_frame = False
        self._last_ok: EditorState | None = None  # what the last good frame showed
        self._last_info: ModelInfo | None = None  # the model of that frame
        self._first_model = True
        self._refitting = False
        self._discover = None
        self.history: History[EditorState] = History(
            EditorState(str(Path(model_path).resolve()), Scene(psi=0.7)))

        self._build_ui()
        self._build_actions()
        self.setAcceptDrops(True)
        # A focused spin box would take Ctrl+Z for its own text; the editor's undo must win.
        QtWidgets.QApplication.instance().installEventFilter(self)
        self.resize(1280, 760)
        geo = self.settings.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        st = self.settings.value("window/state")
        if st is not None:
            self.restoreState(st)
        for key, sp in self._splitters.items():
            v = self.settings.value(f"window/splitter_{key}")
            if v is not None:
                sp.restoreState(v)
        self._update_title()
        self.view.set_message("Loading model…")
        self._request()

    # ------------------------------------------------------------------ UI

    def _build_ui(self) -> None:
        self.view = SceneView()
        self.seed_box = SeedBox()
        self.psi_box = TruncationBox()
        self.panel = SemanticPanel()

        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(self.seed_box)
        controls.addSpacing(16)
        controls.addWidget(self.psi_box, 1)

        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        lv.addWidget(self.view, 1)
        lv.addLayout(controls)

        self.strip = PreviewStrip()
        right = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        right.addWidget(self.panel)
        right.addWidget(self.strip)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 0)
        right.setObjectName("rightSplitter")

        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 4)
        split.setObjectName("mainSplitter")
        self.setCentralWidget(split)
        self._splitters = {"main": split, "right": right}

        self.status_time = QtWidgets.QLabel("")
        self.status_device = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.status_time)
        self.statusBar().addPermanentWidget(self.status_device)

        self.seed_box.seedChanged.connect(self._on_seed)
        self.psi_box.psiChanged.connect(self._on_psi)
        self.panel.rowChanged.connect(self._on_row_changed)
        self.panel.rowReset.connect(self._on_row_reset)
        self.panel.rowSelected.connect(lambda i: self._schedule_strip(0))
        self.strip.strengthPicked.connect(self._on_strip_pick)
        self.strip.exportRequested.connect(self.export_strip_dialog)
        self.engine.stripReady.connect(self._on_strip)
        # A strip costs several frames: refresh it once the hand rests, not on every move.
        self._strip_timer = QtCore.QTimer(self)
        self._strip_timer.setSingleShot(True)
        self._strip_timer.timeout.connect(self._request_strip)

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
        act("Reset all &sliders", self.reset_all, None, "fa5s.eraser", edit_menu)
        analysis_menu = menu.addMenu("&Analysis")
        act("&Discover semantics…", self.discover_dialog, QtGui.QKeySequence("Ctrl+D"), "fa5s.search", analysis_menu)
        self._sync_undo_actions()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> EditorState:
        return self.history.present

    @property
    def scene(self) -> Scene:
        return self.state.scene

    def _commit(self, state: EditorState, *, merge_key=None, render=True) -> None:
        self.history.push(state, merge_key=merge_key)
        self._sync_undo_actions()
        if render:
            self._request()

    def _set_scene(self, scene: Scene, *, merge_key=None) -> None:
        self._commit(EditorState(self.state.model_path, scene), merge_key=merge_key)

    def _request(self) -> None:
        self.engine.request(self.state.model_path, self.scene)
        self._schedule_strip()

    # ------------------------------------------------------------------ preview strip

    def _schedule_strip(self, delay_ms: int = 300) -> None:
        if self.panel.selected_row() is not None:
            self._strip_timer.start(delay_ms)

    def _request_strip(self) -> None:
        row = self.panel.selected_row()
        if row is None or row >= len(self.scene.edits) or self._info is None:
            return
        self.strip.set_title(f"Preview: {self.scene.edits[row].boundary.name} at strengths "
                             f"{DEFAULT_STRENGTHS[0]:+g} … {DEFAULT_STRENGTHS[-1]:+g}")
        self.engine.request_strip(self.state.model_path, self.scene, row, DEFAULT_STRENGTHS)

    def _on_strip(self, result: StripResult) -> None:
        if result.error:
            self.statusBar().showMessage(f"Preview failed: {result.error.splitlines()[0]}", 8000)
            return
        self._strip_result = result
        self.strip.set_images(list(result.images), result.request.strengths)
        row = result.request.row
        if row < len(self.scene.edits):
            self.strip.set_current(self.scene.edits[row].strength)

    def _on_strip_pick(self, strength: float) -> None:
        row = self.panel.selected_row()
        if row is None or row >= len(self.scene.edits):
            return
        self._set_scene(self.scene.with_edit(row, strength=strength))
        self._sync_widgets()
        self.strip.set_current(strength)

    def export_strip(self, path: str | Path) -> bool:
        res = getattr(self, "_strip_result", None)
        if res is None or res.images is None:
            self._show_error("no preview strip yet: select a row first")
            return False
        try:
            save_strip(res.images, res.request.strengths, path)
        except StrataError as exc:
            self._show_error(str(exc))
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def export_strip_dialog(self, kind: str = "png") -> None:
        filt = "Animated GIF (*.gif)" if kind == "gif" else "PNG image (*.png)"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export preview strip", self._last_dir(), filt)
        if path:
            if not path.lower().endswith("." + kind):
                path += "." + kind
            self.export_strip(path)

    def _sync_undo_actions(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())

    def _sync_widgets(self) -> None:
        """Push the present state into the widgets (they emit nothing while set)."""
        scene = self.scene
        if scene.code.seed is not None:
            self.seed_box.set_seed(scene.code.seed)
        self.psi_box.set_psi(scene.psi)
        if self.panel.row_count() != len(scene.edits) or [self.panel.row(i).name for i in range(
                self.panel.row_count())] != [e.boundary.name for e in scene.edits]:
            self._rebuild_rows()
        else:
            for i, e in enumerate(scene.edits):
                self.panel.set_row_values(i, e.strength, e.layers)

    def _rebuild_rows(self) -> None:
        rows = []
        n = self._info.num_layers if self._info else 1
        for e in self.scene.edits:
            b = e.boundary
            default = b.layers if b.layers is not None else (0, n - 1)
            default = (min(default[0], n - 1), min(default[1], n - 1))
            acc = f", validation accuracy {b.accuracy:.1%}" if b.accuracy is not None else ""
            rows.append({"name": b.name, "level": b.level, "strength": e.strength, "layers": e.layers,
                         "default_layers": default, "provenance": (b.provenance or "") + acc})
        self.panel.set_rows(rows)
        heat = [e.boundary.extra.get("dS") for e in self.scene.edits]
        if heat and all(h is not None and len(h) == n for h in heat):
            self.panel.set_heat(np.asarray(heat, dtype=float))
        else:
            self.panel.set_heat(None)

    # ------------------------------------------------------------------ user changes

    def _on_seed(self, seed: int) -> None:
        self._set_scene(self.scene.with_(code=Code.from_seed(seed)), merge_key="seed")

    def _on_psi(self, psi: float) -> None:
        self._set_scene(self.scene.with_(psi=psi), merge_key="psi")

    def _on_row_changed(self, index: int, values: dict) -> None:
        if index >= len(self.scene.edits):
            return
        self._set_scene(self.scene.with_edit(index, strength=float(values["strength"]),
                                             layers=tuple(values["layers"])), merge_key=("row", index))

    def _on_row_reset(self, index: int) -> None:
        row = self.panel.row(index)
        self._set_scene(self.scene.with_edit(index, strength=0.0, layers=row.default_layers))
        self._sync_widgets()

    def reset_all(self) -> None:
        if not self.scene.edits:
            return
        edits = []
        for i, e in enumerate(self.scene.edits):
            edits.append(Edit(e.boundary, 0.0, self.panel.row(i).default_layers))
        self._set_scene(self.scene.with_(edits=tuple(edits)))
        self._sync_widgets()

    def undo(self) -> None:
        if self.history.undo() is not None:
            self._after_history_move()

    def redo(self) -> None:
        if self.history.redo() is not None:
            self._after_history_move()

    def _after_history_move(self) -> None:
        self._sync_undo_actions()
        self._sync_widgets()
        self._update_title()
        self._request()

    # ------------------------------------------------------------------ engine results

    def _on_result(self, result: RenderResult) -> None:
        if not result.ok:
            self._recover(result)
            return
        if result.request.model_path != self.state.model_path:
            return  # a frame of a model the editor has since left; the newer request is queued
        info = result.model
        model_changed = self._info is None or info.path != self._info.path
        self._info = info
        self._last_info = info
        self._wp = result.wp
        self._refitting = False
        self._last_ok = EditorState(result.request.model_path, result.request.scene)
        self.view.set_message("")
        self.view.set_image(result.image)
        self.status_time.setText(f"{result.seconds * 1000:.0f} ms / frame")
        self.status_device.setText(info.device)
        if model_changed:
            self._on_model_ready(info)
        if not self._had_frame:
            self._had_frame = True
            self.firstFrame.emit()

    def _on_model_ready(self, info: ModelInfo) -> None:
        """A model just loaded: fit the panel to it and adopt its code, psi and boundaries."""
        self.panel.set_num_layers(info.num_layers)
        self.panel.set_layer_resolutions(list(info.layer_resolutions))
        scene = self.scene.with_(model=ModelRef(info.fingerprint, info.path, info.name))
        if not self.history.can_undo() and self._first_model:
            scene = scene.with_(psi=info.default_psi)  # a fresh start uses the model's own truncation
        self._first_model = False
        kept = tuple(e for e in scene.edits if e.boundary.w_dim == info.w_dim
                     and e.layers[1] < info.num_layers
                     and (not e.boundary.layerwise or e.boundary.vector.shape[0] == info.num_layers))
        dropped = len(scene.edits) - len(kept)
        scene = scene.with_(edits=kept)
        if self._pending_boundaries:
            scene, msgs = self._with_boundaries(scene, self._pending_boundaries, info)
            self._pending_boundaries = []
            for m in msgs:
                self.statusBar().showMessage(m, 8000)
        self.history.replace(EditorState(self.state.model_path, scene))
        self._sync_widgets()
        self._rebuild_rows()
        self._update_title()
        if dropped:
            self.statusBar().showMessage(f"{dropped} boundary row(s) do not fit {info.name} and were removed", 8000)
        self._request()

    def _with_boundaries(self, scene: Scene, boundaries: list[Boundary], info: ModelInfo) -> tuple[Scene, list[str]]:
        edits, msgs = list(scene.edits), []
        have = {e.boundary.fingerprint for e in edits}
        order = {lvl: i for i, lvl in enumerate(LEVELS)}  # coarse to fine, as the hierarchy reads
        for b in sorted(boundaries, key=lambda b: (order.get(b.level, len(order)), b.name)):
            try:
                b.check_compatible(w_dim=info.w_dim, num_layers=info.num_layers)
            except StrataError as exc:
                msgs.append(str(exc))
                continue
            if b.fingerprint in have:
                continue
            have.add(b.fingerprint)
            new = Edit.with_default_layers(b, 0.0, num_layers=info.num_layers)
            same = [i for i, e in enumerate(edits) if e.boundary.name == b.name]
            if same:  # a re-fitted boundary of that name supersedes the old row, keeping its strength
                edits[same[0]] = Edit(b, edits[same[0]].strength, new.layers)
            else:
                edits.append(new)
        if len(msgs) > 1:  # one line in the status bar, not the last of many
            msgs = [f"{len(msgs)} boundaries do not fit {info.name} and were not added; {msgs[0]}"]
        return scene.with_(edits=tuple(edits)), msgs

    def _recover(self, result: RenderResult) -> None:
        """A request failed: go back to the last state that rendered, keeping the edits."""
        failed = result.request
        switching = (self._last_ok is not None and failed.model_path != self._last_ok.model_path
                     and failed.model_path == self.state.model_path)
        info = result.model
        if switching and info is not None and info.path == failed.model_path \
                and self._code_fits(self.scene.code, info) and not self._refitting:
            # The new model opened, but some rows do not fit it: keep the model, drop those rows.
            # Once only: if the fitted scene fails too, it is an error like any other.
            self._refitting = True
            self._info = info
            self._on_model_ready(info)
            return
        self._refitting = False
        if switching:
            # The model did not open (or its code does not fit): stay on the old one with every edit.
            self._show_error(result.error)
            self.history.replace(EditorState(self._last_ok.model_path, self.scene.with_(
                model=self._last_ok.scene.model)))
            self._sync_undo_actions()
            self._sync_widgets()
            self._update_title()
            self._request()
        elif self._last_ok is None:
            self._show_error(result.error)
            self.view.set_message(result.error)
        else:
            # A frame failed (e.g. out of memory): say so once in the status bar, without a modal box per frame.
            self.statusBar().showMessage(f"Error: {result.error.splitlines()[0]}", 15000)

    @staticmethod
    def _code_fits(code: Code, info: ModelInfo) -> bool:
        if code.seed is not None:
            return True
        shape = tuple(code.array.shape[1:])
        return {"z": (info.z_dim,), "w": (info.w_dim,), "wp": (info.num_layers, info.w_dim)}[code.space] == shape

    def _show_error(self, message: str) -> None:
        first = message.splitlines()[0] if message else "unknown error"
        self.statusBar().showMessage(f"Error: {first}", 15000)
        if not getattr(self, "quiet_errors", False):
            QtWidgets.QMessageBox.warning(self, "Strata", message)

    # ------------------------------------------------------------------ opening

    def open_path(self, path: str | Path) -> None:
        """Open a model, a saved scene (PNG or JSON), or boundaries (file or folder)."""
        path = Path(path)
        try:
            if path.is_dir():
                self._open_boundaries(path)
            elif path.suffix.lower() in MODEL_SUFFIXES:
                self._open_model(path)
            elif path.suffix.lower() in RECIPE_SUFFIXES:
                self._open_recipe(path)
            elif path.suffix.lower() in BOUNDARY_SUFFIXES:
                if path.suffix.lower() == ".npy" and self._looks_like_code(path):
                    self._import_code(path)
                else:
                    self._open_boundaries(path)
            else:
                raise StrataError(f"{path}: Strata opens models (.pth), scenes (.png, .json), "
                                  "boundaries (.npy, .npz or a folder) and codes (.npy)")
        except StrataError as exc:
            self._show_error(str(exc))
            return
        self._add_recent(path)

    def _looks_like_code(self, path: Path) -> bool:
        """A dropped .npy shaped [1, L, w_dim] is a wp code; anything else is taken for a boundary."""
        if self._info is None or "boundary" in path.stem:
            return False
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception:
            return False
        return arr.shape == (1, self._info.num_layers, self._info.w_dim)

    def _open_model(self, path: Path) -> None:
        if not path.is_file():
            raise StrataError(f"{path}: no such file")
        self._commit(EditorState(str(path.resolve()), self.scene))
        self._save_path = None
        if self.view.image() is None:
            self.view.set_message("Loading model…")
        self.statusBar().showMessage(f"Opening {path.name}…", 4000)

    def _open_recipe(self, path: Path) -> None:
        scene = read_recipe(path)
        model = find_model(scene.model, source=str(path), extra=[Path(self.state.model_path)])
        self._commit(EditorState(str(model.resolve()), scene))
        self._sync_widgets()
        self._update_title()
        self._save_path = path if path.suffix.lower() == ".png" else None

    def _open_boundaries(self, path: Path) -> None:
        boundaries, errors = load_boundaries(path)
        for e in errors:
            self.statusBar().showMessage(e, 8000)
        if not boundaries:
            raise StrataError(errors[0] if errors else f"{path}: no boundaries found")
        if self._info is None:
            self._pending_boundaries += boundaries
            return
        before = len(self.scene.edits)
        scene, msgs = self._with_boundaries(self.scene, boundaries, self._info)
        if msgs and len(scene.edits) == before:
            raise StrataError(msgs[0])
        for m in msgs:
            self.statusBar().showMessage(m, 8000)
        self._set_scene(scene)
        self._rebuild_rows()
        self.statusBar().showMessage(f"Loaded {len(scene.edits) - before} boundary(ies) from {path.name}", 5000)

    def _import_code(self, path: Path) -> None:
        if self._info is None:
            raise StrataError("open a model before importing a code")
        i = self._info
        code = load_code_npy(path, z_dim=i.z_dim, w_dim=i.w_dim, num_layers=i.num_layers)
        if code.space == "z" and i.z_dim == i.w_dim:
            # A [1, dim] array fits both spaces here; only the person who saved it knows which.
            space = self._ask_code_space(path)
            if space is None:
                return
            if space == "w":
                code = load_code_npy(path, z_dim=i.z_dim, w_dim=i.w_dim, num_layers=i.num_layers, space="w")
        self._set_scene(self.scene.with_(code=code))
        self.statusBar().showMessage(f"Imported {code.describe()} from {path.name}", 5000)

    def _ask_code_space(self, path: Path) -> str | None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Import code")
        box.setText(f"{path.name} fits this model both as z and as w.")
        box.setInformativeText("z: a latent drawn from N(0, I), mapped and truncated like a seed.\n"
                               "w: a code already in W (for example from an inversion), used as given.")
        as_z = box.addButton("Read as z", QtWidgets.QMessageBox.AcceptRole)
        as_w = box.addButton("Read as w", QtWidgets.QMessageBox.AcceptRole)
        box.addButton(QtWidgets.QMessageBox.Cancel)
        box.setDefaultButton(as_z)
        box.exec()
        return {as_z: "z", as_w: "w"}.get(box.clickedButton())

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open", self._last_dir(),
            "Everything Strata opens (*.pth *.pt *.png *.json *.npy *.npz);;Models (*.pth *.pt);;"
            "Saved scenes (*.png *.json);;Boundaries (*.npy *.npz)")
        if path:
            self.open_path(path)

    def open_boundary_folder_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open boundary folder", self._last_dir())
        if path:
            self.open_path(path)

    def import_code_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import code", self._last_dir(), "NumPy code (*.npy)")
        if path:
            try:
                self._import_code(Path(path))
            except StrataError as exc:
                self._show_error(str(exc))

    # ------------------------------------------------------------------ saving

    def _current_frame(self) -> tuple[np.ndarray, Scene] | None:
        img = self.view.image()
        if img is None or self._last_ok is None:
            self._show_error("nothing to save yet: no frame has rendered")
            return None
        # Save exactly what is on screen, with the recipe that made it, named by the model that drew it.
        info = self._last_info
        return img, self._last_ok.scene.with_(model=ModelRef(info.fingerprint, info.path, info.name))

    def save(self) -> bool:
        if self._save_path is None:
            return self.save_as()
        return self.save_png(self._save_path)

    def save_as(self, upscale: int = 1) -> bool:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save scene as PNG", self._last_dir(), "PNG image (*.png)")
        if not path:
            return False
        path = Path(path) if path.lower().endswith(".png") else Path(path + ".png")
        ok = self.save_png(path, upscale=upscale)
        if ok and upscale == 1:
            self._save_path = path
        return ok

    def save_png(self, path: Path, *, upscale: int = 1) -> bool:
        frame = self._current_frame()
        if frame is None:
            return False
        try:
            atomic_write_bytes(Path(path), png_bytes_with_recipe(frame[0], frame[1], upscale=upscale))
        except StrataError as exc:
            self._show_error(str(exc))
            return False
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self._add_recent(Path(path))
        return True

    def save_recipe_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save recipe", self._last_dir(), "Recipe (*.json)")
        if path:
            try:
                scene = self.scene
                if self._info is not None and self._info.path == self.state.model_path:
                    scene = scene.with_(model=ModelRef(self._info.fingerprint, self._info.path, self._info.name))
                write_recipe_json(scene, path if path.endswith(".json") else path + ".json")
                self.statusBar().showMessage(f"Saved {path}", 5000)
            except StrataError as exc:
                self._show_error(str(exc))

    def export_wp(self, path: str | Path) -> bool:
        if self._wp is None:
            self._show_error("nothing to export yet: no frame has rendered")
            return False
        try:
            save_wp_npy(self._wp, path)
        except StrataError as exc:
            self._show_error(str(exc))
            return False
        self.statusBar().showMessage(f"Exported wp {list(self._wp.shape)} to {path}", 5000)
        return True

    def export_wp_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export wp code", self._last_dir(), "NumPy (*.npy)")
        if path:
            self.export_wp(path if path.endswith(".npy") else path + ".npy")

    # ------------------------------------------------------------------ recent files, title, window

    def _last_dir(self) -> str:
        return str(self.settings.value("paths/last_dir", str(Path.home())))

    def recent_files(self) -> list[str]:
        value = self.settings.value("paths/recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if v]

    def _add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        recent = [p] + [r for r in self.recent_files() if r != p]
        self.settings.setValue("paths/recent", recent[:MAX_RECENT])
        self.settings.setValue("paths/last_dir", str(Path(p).parent))
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for r in self.recent_files():
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda checked=False, r=r: self.open_path(r))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _update_title(self) -> None:
        name = self._model_title if (self._info and self._model_title and
                                     Path(self._info.path) == Path(self._default_path())) else (
            self._info.name if self._info else Path(self.state.model_path).name)
        res = f" — {self._info.resolution}×{self._info.resolution}" if self._info else ""
        self.setWindowTitle(f"Strata — {name}{res}")

    def _default_path(self) -> str:
        from strata import assets
        return str(assets.default_model_path().resolve())

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
        event.acceptProposedAction()

    # ------------------------------------------------------------------ discovery

    def discover_dialog(self) -> None:
        """Run the HiGAN pipeline on the current model in the background; load its boundaries."""
        from .discover_dialog import DiscoverDialog

        # One dialog per window: a run still going (or still stopping) is brought back, not orphaned.
        if self._discover is not None and (self._discover.isVisible() or self._discover.runner.is_running()):
            self._discover.show()
            self._discover.raise_()
            return
        if self._info is None:
            self._show_error("open a model first")
            return
        import platformdirs
        out = Path(platformdirs.user_data_dir("Strata", "Strata")) / "discoveries" / self._info.fingerprint[:12]
        self._discover = DiscoverDialog(self._info.path, out_dir=str(out), device=self.engine.renderer.device.type,
                                        parent=self)
        self._discover.boundariesReady.connect(self.open_path)
        self._discover.show()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if ev.type() == QtCore.QEvent.ShortcutOverride and isinstance(obj, QtWidgets.QWidget) \
                and isinstance(obj, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox)) and obj.window() is self:
            if (ev.matches(QtGui.QKeySequence.Undo) or ev.matches(QtGui.QKeySequence.Redo)
                    or ev.keyCombination() == QtCore.QKeyCombination(
                        QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier, QtCore.Qt.Key_Z)):
                ev.ignore()  # not the field's: the window's Undo / Redo actions take it
                return True
        return super().eventFilter(obj, ev)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        QtWidgets.QApplication.instance().removeEventFilter(self)
        self._strip_timer.stop()
        if self._discover is not None:
            self._discover.shutdown()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for key, sp in self._splitters.items():
            self.settings.setValue(f"window/splitter_{key}", sp.saveState())
        self.settings.sync()
        self.engine.close()
        super().closeEvent(event)
