"""Semantic levels of a boundary, their display names and colours.

HiGAN sorts the semantics a scene generator has learned into levels by the
layers they live in: the spatial *layout* in the earliest layers, the
*objects* in the scene next, then *attributes* of those objects, and the
*colour* scheme in the last layers. A boundary whose level is not known is
shown as *unknown*.

Public API
----------
LEVELS : tuple of str
    The level keys, coarse to fine, ``"unknown"`` last.
level_color(level) -> QtGui.QColor
    The colour that marks a level everywhere in the GUI.
level_name(level) -> str
    The display name of a level ("Layout", "Colour", ...).
level_text_color(level) -> QtGui.QColor
    Black or white, whichever reads better on ``level_color(level)``.
normalize_level(level) -> str
    A level key from free text ("Color", " LAYOUT ") or ``"unknown"``.
"""

from __future__ import annotations

from PySide6 import QtGui

__all__ = [
    "LEVELS",
    "level_color",
    "level_name",
    "level_text_color",
    "normalize_level",
]

LEVELS: tuple[str, ...] = ("layout", "object", "attribute", "colour", "unknown")

# Hues far apart so that a row can be told by colour alone; the values are
# mid-bright so they read on both a light and a dark palette.
_COLORS: dict[str, str] = {
    "layout": "#3f7fe0",  # blue
    "object": "#2fa865",  # green
    "attribute": "#e8862a",  # orange
    "colour": "#c94fc0",  # magenta
    "unknown": "#8a8f98",  # grey
}

_NAMES: dict[str, str] = {
    "layout": "Layout",
    "object": "Object",
    "attribute": "Attribute",
    "colour": "Colour",
    "unknown": "Unknown",
}

# Spellings met in boundary files from other tools.
_ALIASES: dict[str, str] = {
    "color": "colour",
    "colours": "colour",
    "colors": "colour",
    "layouts": "layout",
    "objects": "object",
    "attributes": "attribute",
    "": "unknown",
}


def normalize_level(level: str | None) -> str:
    """Return the level key for ``level``.

    Parameters
    ----------
    level : str or None
        A level as written in a boundary file; case and surrounding blanks
        are ignored and the American "color" is accepted.

    Returns
    -------
    str
        One of `LEVELS`; ``"unknown"`` for anything not recognised.
    """
    key = (level or "").strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in _COLORS else "unknown"


def level_color(level: str | None) -> QtGui.QColor:
    """Return the colour of ``level`` (grey for an unknown level)."""
    return QtGui.QColor(_COLORS[normalize_level(level)])


def level_name(level: str | None) -> str:
    """Return the display name of ``level`` ("Unknown" if not recognised)."""
    return _NAMES[normalize_level(level)]


def level_text_color(level: str | None) -> QtGui.QColor:
    """Return black or white, whichever contrasts more with the level colour."""
    c = level_color(level)
    # Relative luminance after WCAG 2.x; 0.4 rather than 0.5 keeps white text
    # on the mid-bright hues, which read well and look consistent.
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())
    return QtGui.QColor("#111111") if lum > 0.4 else QtGui.QColor("#ffffff")
