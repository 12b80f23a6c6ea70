"""The scene view's actions (copy, save, zoom, smooth, compare modes) and its context menu."""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from ._scene_keys import SHORTCUTS

COMPARE_MODES = ("off", "hold", "split")
# Actions that need an image to act on.
_IMAGE_ACTIONS = ("copy_image", "save_image", "copy_recipe", "zoom_in", "zoom_out", "actual_size")


def build_actions(view) -> tuple[dict[str, QtGui.QAction], QtGui.QActionGroup]:
    """Make the actions of ``view`` (a SceneView), added to it; return them by name, and the
    exclusive group of the compare modes (``view``'s current mode checked)."""
    def act(name, text, slot, tip, checkable=False):
        shortcut = SHORTCUTS.get(name)
        a = QtGui.QAction(text + (f"\t{shortcut}" if shortcut else ""), view)
        a.setToolTip(tip + (f" ({shortcut})" if shortcut else ""))
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        return a

    actions = {
        "copy_image": act("copy_image", "&Copy image", lambda: view.copy_image(),
                          "Copy the scene image to the clipboard"),
        "save_image": act("save_image", "&Save image…", lambda: view.saveRequested.emit(),
                          "Save the scene as a PNG with its recipe"),
        "copy_recipe": act("copy_recipe", "Copy &recipe", lambda: view.copyRecipeRequested.emit(),
                           "Copy the scene's recipe (JSON) to the clipboard"),
        "fit": act("fit", "&Fit to window", lambda: view.fit_to_window(),
                   "Show the whole image, following the window's size"),
        "actual_size": act("actual_size", "&Actual pixels (1:1)", lambda: view.actual_size(),
                           "One image pixel per screen pixel"),
        "zoom_in": act("zoom_in", "Zoom &in", lambda: view.zoom_in(), "Enlarge the image"),
        "zoom_out": act("zoom_out", "Zoom &out", lambda: view.zoom_out(), "Reduce the image"),
        "smooth": act("smooth", "S&mooth scaling", view.set_smooth,
                      "Blur an enlarged image instead of showing its pixels as blocks", True),
        "compare_off": act("compare_off", "&Off", lambda: view.set_compare_mode("off"),
                           "No before/after comparison", True),
        "compare_hold": act("compare_hold", "&Hold key for before",
                            lambda: view.set_compare_mode("hold"),
                            "Show the unedited scene while backslash is held", True),
        "compare_split": act("compare_split", "&Split view", lambda: view.set_compare_mode("split"),
                             "Unedited scene left of a draggable divider, edited right", True),
    }
    mode_group = QtGui.QActionGroup(view)
    for mode in COMPARE_MODES:
        mode_group.addAction(actions[f"compare_{mode}"])
    actions[f"compare_{view.compare_mode()}"].setChecked(True)
    for a in actions.values():
        view.addAction(a)  # so that a window menu can reach them from the view
    return actions, mode_group


def enable_image_actions(actions: dict[str, QtGui.QAction], has_image: bool) -> None:
    """Enable the actions that act on the image while there is one."""
    for name in _IMAGE_ACTIONS:
        actions[name].setEnabled(has_image)


def build_context_menu(parent: QtWidgets.QWidget, actions: dict[str, QtGui.QAction]) -> QtWidgets.QMenu:
    """The right-click menu over ``actions`` (the caller owns it)."""
    menu = QtWidgets.QMenu(parent)
    for name in ("copy_image", "save_image", "copy_recipe"):
        menu.addAction(actions[name])
    menu.addSeparator()
    for name in ("fit", "actual_size", "zoom_in", "zoom_out", "smooth"):
        menu.addAction(actions[name])
    menu.addSeparator()
    compare = menu.addMenu("Compare with unedited")
    compare.setToolTipsVisible(True)
    for name in ("compare_off", "compare_hold", "compare_split"):
        compare.addAction(actions[name])
    menu.setToolTipsVisible(True)
    return menu
