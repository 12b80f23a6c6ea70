"""The main window's session safety: the crash-recovery journal and the unsaved-changes prompt.

A mixin of :class:`~strata.app.window.MainWindow`; the journal itself is
:mod:`strata.app.journal` (no Qt).
"""

from __future__ import annotations

import time

from PySide6 import QtWidgets

from strata.engine.core.errors import StrataError

from .editor import EditorState

__all__ = ["SessionMixin"]


class SessionMixin:
    """Journal the history, offer a crashed session back, ask before losing unsaved changes."""

    def _record_journal(self) -> None:
        """Write the history to this session's journal; an untouched session keeps none."""
        if not (self.history.can_undo() or self.history.can_redo() or self.editor.modified):
            self.journal.clear()
            return
        try:
            self.journal.record(self.history)
        except StrataError as exc:
            if not self._journal_failed:  # said once: editing goes on without recovery
                self._journal_failed = True
                self._warn(f"Crash recovery is off for this session: {exc}")

    def offer_recovery(self) -> bool:
        """A session that ended without a clean exit (killed, crashed) is offered back; True if one was."""
        session, problems = self.journal.recover()
        for problem in problems:
            self._warn(f"A crashed session could not be read and was removed: {problem}")
        if session is None:
            return False
        when = time.strftime("%H:%M on %d %b", time.localtime(session.saved_at))
        self.message_bar.show_message(
            f"Strata did not close normally at {when}. Restore that editing session "
            f"({len(session.steps)} step{'s' if len(session.steps) != 1 else ''} of history)?",
            "Restore", lambda: self.restore_session(session))
        return True

    def restore_session(self, session) -> None:
        """Make a journal's history this window's: its present shows, its steps undo and redo."""
        states = [EditorState(step.model_path, step.scene) for step in session.steps]
        self.editor.history.restore(states, session.position)
        self.editor.save_path = self.editor.document = None
        self.journal.discard(session.path)
        self._after_history_move()
        self.statusBar().showMessage("Restored the session; Ctrl+Z goes back through its history", 8000)

    def ask_unsaved(self) -> QtWidgets.QMessageBox.StandardButton:
        """Save / Discard / Cancel for unsaved changes (a method, so that scripts can answer it)."""
        box = QtWidgets.QMessageBox(self)
        box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
        box.setWindowTitle("Strata")
        name = self.editor.document.name if self.editor.document is not None else "this scene"
        box.setText(f"Save the changes to {name} before closing?")
        box.setInformativeText("Your edits are lost if you don't save them.")
        box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Save
                               | QtWidgets.QMessageBox.StandardButton.Discard
                               | QtWidgets.QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QtWidgets.QMessageBox.StandardButton.Save)
        box.setObjectName("unsavedPrompt")
        return QtWidgets.QMessageBox.StandardButton(box.exec())
