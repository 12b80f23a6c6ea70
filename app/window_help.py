"""The main window's Help: the shortcut sheet, About, the documentation, and tooltips that name keys.

A mixin of :class:`~strata.app.window.MainWindow`: it reads the window's menu
bar, its editor (for About) and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["HelpMixin"]


class HelpMixin:
    """Help ▸ Keyboard shortcuts, Documentation and About; each menu action's tooltip names its keys."""

    def _tooltips_with_shortcuts(self) -> None:
        """Every menu action's tooltip says what it does and its keys, as the shortcut sheet lists them."""
        for a in self._menu_actions():
            keys = " or ".join(k.toString(QtGui.QKeySequence.NativeText) for k in a.shortcuts())
            text = a.text().split("\t")[0].replace("&", "").rstrip("…")
            tip = a.toolTip() if a.toolTip() and a.toolTip() != a.text().replace("&", "") else text
            if keys and keys not in tip:
                tip = f"{tip} ({keys})"
            a.setToolTip(tip)
        for menu in self.menuBar().findChildren(QtWidgets.QMenu):
            menu.setToolTipsVisible(True)

    def _menu_actions(self) -> list[QtGui.QAction]:
        out = []

        def walk(menu: QtWidgets.QMenu) -> None:
            for a in menu.actions():
                if a.menu() is not None:
                    walk(a.menu())
                elif not a.isSeparator():
                    out.append(a)
        for top in self.menuBar().actions():
            if top.menu() is not None:
                walk(top.menu())
        return out

    def shortcut_sheet(self) -> list[tuple[str, str]]:
        """(what, keys) for every key the window answers: menu shortcuts, then keys of the view and panel."""
        rows = []
        for a in self._menu_actions():
            keys = " or ".join(k.toString(QtGui.QKeySequence.NativeText) for k in a.shortcuts())
            if keys:
                rows.append((a.text().split("\t")[0].replace("&", "").rstrip("…"), keys))
        rows += [("Zoom around the cursor", "Mouse wheel over the scene"),
                 ("Pan the zoomed scene", "Drag it"),
                 ("Show the unedited scene", "Hold \\"),
                 ("Move through the rows", "Up / Down"),
                 ("Change the selected row's strength", "Left / Right (Shift: by 1.0)"),
                 ("Strength or field value", "Type, then Enter; Ctrl+Z while typing undoes the typing")]
        return rows

    def show_shortcuts(self) -> None:
        dlg = QtWidgets.QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        dlg.setObjectName("shortcutSheet")
        table = QtWidgets.QTableWidget(0, 2, dlg)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().hide()
        table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        for what, keys in self.shortcut_sheet():
            r = table.rowCount()
            table.insertRow(r)
            table.setItem(r, 0, QtWidgets.QTableWidgetItem(what))
            table.setItem(r, 1, QtWidgets.QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        buttons.rejected.connect(dlg.reject)
        lay = QtWidgets.QVBoxLayout(dlg)
        lay.addWidget(table)
        lay.addWidget(buttons)
        dlg.resize(560, min(640, 60 + 30 * table.rowCount()))
        dlg.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        dlg.show()
        self._shortcut_dialog = dlg

    def about_text(self) -> str:
        from strata.engine import __version__

        info = self.editor.model
        model = f"{info.name} ({info.resolution}×{info.resolution}, {info.num_layers} layers)" if info else "none"
        device = info.device if info else "—"
        return (f"<h3>Strata {__version__}</h3>"
                "<p>An editor for scenes synthesized by style-based GANs, after <i>Semantic Hierarchy Emerges "
                "in Deep Generative Representations for Scene Synthesis</i> (Yang, Shen, Zhou).</p>"
                f"<p>Model: {model}<br>Device: {device}<br>Qt {QtCore.qVersion()}</p>"
                "<p>Licence: MIT.</p>")

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About Strata", self.about_text())

    def docs_url(self) -> QtCore.QUrl:
        """The documentation: docs/ beside the sources where they are there, else the README's home."""
        here = Path(__file__).resolve().parents[1] / "docs"
        if here.is_dir():
            return QtCore.QUrl.fromLocalFile(str(here))
        return QtCore.QUrl("https://pypi.org/project/scene-strata/")

    def open_docs(self) -> None:
        QtGui.QDesktopServices.openUrl(self.docs_url())
