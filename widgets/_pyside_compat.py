"""Keep PySide6's reference-count slip on ``True`` from aborting the interpreter.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a
reference to it. On Python 3.11 and older every emit from Python code then
drops one reference to ``True``; after a few thousand emits (a slider drag
emits several per frame) the count reaches zero and CPython aborts with
"Fatal Python error: bool_dealloc: deallocating True or False". Python 3.12
made ``True`` and ``False`` immortal, so the slip is harmless there.

`protect_bools` gives both a reserve of references so large that no session
can use it up, which is what 3.12 does. Call it once, early (the widget tests'
conftest does; the application should too).
"""

from __future__ import annotations

import sys

__all__ = ["protect_bools"]

_RESERVE = 1 << 40  # references added to True and False: 10**12 emits before trouble


def protect_bools() -> bool:
    """Add a reserve of references to ``True`` and ``False`` (CPython < 3.12 only).

    Returns True when the reserve was added (once per process), False when
    nothing was needed or it was already done.
    """
    global _done
    if _done or sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    import ctypes

    # ob_refcnt is the first field of every CPython object, at the object's address.
    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _RESERVE
    _done = True
    return True


_done = False
