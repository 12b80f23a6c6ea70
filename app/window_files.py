"""The main window's files: opening anything Strata opens, saving and exporting, recent files, drops.

A mixin of :class:`~strata.app.window.MainWindow`. What a path is and where
Strata keeps its files is :mod:`strata.app.files` (no Qt); what opening does
to the scene is :class:`~strata.app.editor.Editor`; this part asks the user
(dialogs), reports (status bar, message bar) and writes atomically.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.errors import StrataError
from strata.engine.core.scene import png_bytes_with_recipe, save_wp_npy, write_recipe_json

from . import files

__all__ = ["FilesMixin"]


class FilesMixin:
    """Open, save, export, recent files and drag-and-drop for the main window."""

    def open_path(self, path: str | Path) -> None:
        """Open a model, a saved scene (PNG or JSON), boundaries (file or folder) or a code."""
        path = Path(path)
        try:
            kind = files.kind_of(path, code_shape=self.editor.code_shape())
            {"model": self._open_model, "recipe": self._open_recipe, "boundaries": self._open_boundaries,
             "code": self._import_code}[kind](path)
        except StrataError as exc:
            self._show_error(str(exc))
            return
        self._add_recent(path)

    def _open_model(self, path: Path) -> None:
        self.editor.open_model(path)
        self._changed()
        if self.view.image() is None:
            self.view.set_message("Loading model…")
        self.statusBar().showMessage(f"Opening {path.name}…", 4000)

    def _open_recipe(self, path: Path) -> None:
        self.editor.open_recipe(path)
        self.settings.setValue("paths/last_scene", str(Path(path).resolve()))
        self._changed()
        self._sync_widgets()
        self._update_title()

    def _open_boundaries(self, path: Path) -> None:
        added, notes = self.editor.open_boundaries(path)
        for note in notes:
            self._warn(note)
        if added is None:
            return  # they wait for the model to load
        self._changed()
        self._rebuild_rows()
        self.statusBar().showMessage(f"Loaded {added} boundary(ies) from {path.name}", 5000)

    def _import_code(self, path: Path) -> None:
        code = self.editor.read_code(path)
        if self.editor.code_is_ambiguous(code):
            space = self._ask_code_space(path)
            if space is None:
                return
            code = self.editor.read_code(path, space=space)
        if self.editor.set_code(code):
            self._changed()
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
            "Everything Strata opens (*.pth *.pt *.pkl *.png *.json *.npy *.npz);;Models (*.pth *.pt *.pkl);;"
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

    def save(self) -> bool:
        if self.editor.save_path is None:
            return self.save_as()
        return self.save_png(self.editor.save_path)

    def save_as(self, upscale: int = 1) -> bool:
        path = self._ask_save_path("Save scene as PNG", "PNG image (*.png)", ".png", files.suggested_name(self.scene, "png"))
        if path is None:
            return False
        ok = self.save_png(path, upscale=upscale)
        if ok and upscale == 1:
            self.editor.save_path = path
        return ok

    def save_png(self, path: Path, *, upscale: int = 1) -> bool:
        """Write the frame on screen with the recipe that made it (not the newest, unrendered edit).

        While a drag preview (reduced precision) is on screen, the exact frame is rendered first.
        """
        self._flush_exact()
        frame = self.editor.frame_to_save()
        if frame is None:
            self._show_error("nothing to save yet: no frame has rendered")
            return False
        if not self._write(lambda: atomic_write_bytes(Path(path), png_bytes_with_recipe(*frame, upscale=upscale)),
                           f"Saved {path}"):
            return False
        if upscale == 1 and frame[1].same_as(self.editor.recipe_scene()):
            self.editor.mark_saved(path)  # the file holds the present state: nothing is left unsaved
            self._update_title()
        self.settings.setValue("paths/last_scene", str(Path(path).resolve()))
        self._add_recent(Path(path))
        return True

    def _flush_exact(self, timeout: float = 60.0) -> None:
        """Render the present state exactly and take the result now (a save must not write a preview)."""
        if not self.editor.needs_exact_frame():
            return
        self._settle.stop()
        self.engine.request(self.state.model_path, self.scene, "exact")
        self.engine.worker.wait_until_idle(timeout)
        QtCore.QCoreApplication.sendPostedEvents()  # the result's queued signal reaches _on_result

    def save_recipe_dialog(self) -> None:
        path = self._ask_save_path("Save recipe", "Recipe (*.json)", ".json", files.suggested_name(self.scene, "json"))
        if path:
            scene = self.editor.recipe_scene()
            if self._write(lambda: write_recipe_json(scene, path), f"Saved {path}"):
                self.editor.mark_saved(path)
                self._update_title()
                self.settings.setValue("paths/last_scene", str(Path(path).resolve()))

    def export_wp(self, path: str | Path) -> bool:
        """Write the edited code of the frame on screen."""
        last = self.editor.last_exact
        if last is None:
            self._show_error("nothing to export yet: no frame has rendered")
            return False
        return self._write(lambda: save_wp_npy(last.wp, path), f"Exported wp {list(last.wp.shape)} to {path}")

    def _write(self, write, done: str) -> bool:
        """Run ``write``; say ``done`` in the status bar, or what went wrong (the old file is kept)."""
        try:
            write()
        except StrataError as exc:
            self._show_error(str(exc))
            return False
        self.statusBar().showMessage(done, 5000)
        return True

    def export_wp_dialog(self) -> None:
        path = self._ask_save_path("Export wp code", "NumPy (*.npy)", ".npy", files.suggested_name(self.scene, "wp"))
        if path:
            self.export_wp(path)

    def _ask_save_path(self, title: str, file_filter: str, suffix: str, name: str) -> Path | None:
        """A path from the save dialog (offering ``name``), ending in ``suffix``; None when cancelled."""
        start = str(Path(self._last_dir()) / name)
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, start, file_filter)
        if not path:
            return None
        return Path(path if path.lower().endswith(suffix) else path + suffix)

    def _last_dir(self) -> str:
        return str(self.settings.value("paths/last_dir", str(Path.home())))

    def offer_last_scene(self) -> bool:
        """Started with nothing to open: offer the scene last opened or saved, if it is still there."""
        last = self.settings.value("paths/last_scene")
        if not last or not Path(str(last)).is_file():
            return False
        path = Path(str(last))
        self.message_bar.show_message(f"Pick up where you left off: {path.name}", "Reopen",
                                      lambda: self.open_path(path))
        self.message_bar.setToolTip(str(path))
        return True

    def recent_files(self) -> list[str]:
        return files.recent_list(self.settings.value("paths/recent", []))

    def _add_recent(self, path: Path) -> None:
        recent = files.with_recent(self.recent_files(), path)
        self.settings.setValue("paths/recent", recent)
        self.settings.setValue("paths/last_dir", str(Path(recent[0]).parent))
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for r in self.recent_files():
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda checked=False, r=r: self.open_path(r))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
        event.acceptProposedAction()
