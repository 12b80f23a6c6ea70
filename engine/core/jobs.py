"""Long jobs: the callbacks they take, and the error they raise when asked to stop.

A long job (annotating scenes, training, evaluating a generator) is a plain
function that takes ``progress(fraction, message)`` and ``should_stop()``,
both optional; the window and the command line each wrap it (a progress bar,
tqdm). This is Orange3's ``TaskState`` idea without Qt.

Public API
----------
Progress
    ``Callable[[float, str], None]``: the share done in [0, 1] and what is happening.
ShouldStop
    ``Callable[[], bool]``: polled between steps; True asks the job to stop.
Cancelled
    Raised by a job that stopped because ``should_stop()`` said so.
report(progress, fraction, message), stopping(should_stop)
    Call the callbacks when given (the fraction clamped to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable

from strata.engine.core.errors import StrataError

__all__ = ["Cancelled", "Progress", "ShouldStop", "report", "stopping"]

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]


class Cancelled(StrataError):
    """The caller asked a long job to stop; a job that saves as it goes keeps what it finished on disk."""


def report(progress: Progress | None, fraction: float, message: str) -> None:
    """``progress(fraction, message)`` if there is a callback; a fraction outside [0, 1] is clamped,
    so that a bar never runs backwards or past its end from a rounding slip."""
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


def stopping(should_stop: ShouldStop | None) -> bool:
    """True when there is a ``should_stop`` callback and it asks to stop."""
    return should_stop is not None and bool(should_stop())
