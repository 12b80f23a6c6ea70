"""Strata's application: the command line and the Qt main window.

``import app`` stays headless: PySide6 is imported inside :func:`main`'s GUI
path only, so the command line works without a display.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from .cli import main as _main
    return _main(argv)


__all__ = ["main"]
