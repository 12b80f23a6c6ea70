"""The main window's previews: the preview strip, the unedited scene for before/after, the recipe on the clipboard.

A mixin of :class:`~strata.app.window.MainWindow`. The strip and the unedited
scene both render on the strip's thread (:meth:`EngineAdapter.request_strip`),
so neither delays a frame of the scene itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from strata.engine.core.errors import StrataError
from strata.engine.core.scene import recipe_json
from strata.engine.core.strip import DEFAULT_STRENGTHS, StripResult, save_strip

from . import files

__all__ = ["PreviewMixin"]


class PreviewMixin:
    """The preview strip of the selected row, the before image, and Copy recipe."""

    def copy_recipe(self) -> None:
        """The present scene's recipe (JSON) on the clipboard: paste it into a file and open it."""
        try:
            text = recipe_json(self.editor.recipe_scene())
        except StrataError as exc:
            self._show_error(str(exc))
            return
        QtWidgets.QApplication.clipboard().setText(text)
        self.statusBar().showMessage("Copied the scene's recipe (JSON)", 3000)

    def _before_key(self) -> tuple:
        """What the unedited scene depends on (not the rows)."""
        scene = self.scene
        return (self.state.model_path, scene.code.key(), scene.psi, scene.class_index, scene.input_transform)

    def _refresh_before(self) -> None:
        """A before image of another seed, model or truncation is stale: drop it, or redo it while comparing."""
        if self._before_for == self._before_key():
            return
        self.view.set_before(None)
        self._before_for = None
        if self.view.is_comparing():
            self._request_before()

    def _request_before(self) -> None:
        """Render the scene without its edits for the before/after view (asked for only when comparing).

        It goes through the strip's thread (a one-strength strip of a row at 0 with no other edits is
        exactly the unedited scene), so it never delays a frame of the scene itself.
        """
        scene = self.scene
        if self._before_for == self._before_key() and self.view.before() is not None:
            return  # still the unedited scene of this seed, model and truncation
        self._before_for = self._before_key()
        if not scene.edits:  # no rows: the scene on screen is the unedited one
            self.view.set_before(self.view.image())
            return
        plain = scene.with_edit(0, strength=0.0)
        plain = plain.with_(edits=plain.edits[:1])
        self._before_stamp = self.engine.request_strip(self.state.model_path, plain, 0, (0.0,))

    def _request_strip(self) -> None:
        if not self.strip.isVisibleTo(self):
            return  # folded away: no work for a strip nobody sees
        row = self.panel.selected_row()
        if row is None or row >= len(self.scene.edits) or self.editor.model is None:
            return
        self.strip.set_title(f"Preview: {self.scene.edits[row].boundary.name} at strengths "
                             f"{DEFAULT_STRENGTHS[0]:+g} … {DEFAULT_STRENGTHS[-1]:+g}")
        self.engine.request_strip(self.state.model_path, self.scene, row, DEFAULT_STRENGTHS)

    def _on_strip(self, result: StripResult) -> None:
        if result.request.stamp == self._before_stamp:
            self._before_stamp = None
            if not result.error:
                self.view.set_before(result.images[0])
            return
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
        if row is not None and self.editor.pick_strength(row, strength):
            self._changed()
            self._sync_widgets()
            self.strip.set_current(strength)

    def export_strip(self, path: str | Path) -> bool:
        res = self._strip_result
        if res is None:
            self._show_error("no preview strip yet: select a row first")
            return False
        return self._write(lambda: save_strip(res.images, res.request.strengths, path), f"Exported {path}")

    def export_strip_dialog(self, kind: str = "png") -> None:
        filt = "Animated GIF (*.gif)" if kind == "gif" else "PNG image (*.png)"
        path = self._ask_save_path("Export preview strip", filt, "." + kind,
                                   files.suggested_name(self.scene, "strip_" + kind, row=self.panel.selected_row()))
        if path:
            self.export_strip(path)

    def _show_strip(self, shown: bool) -> None:
        self.strip.setVisible(shown)
        self.settings.setValue("window/strip", shown)
        if shown:
            self._request_strip()
