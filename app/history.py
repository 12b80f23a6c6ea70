"""Undo / redo over editor states (plain Python, no Qt).

A slider drag sends dozens of states a second; consecutive pushes with the
same ``merge_key`` within ``merge_seconds`` fold into one step, so one Ctrl+Z
undoes the whole drag.
"""

from __future__ import annotations

import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

__all__ = ["History"]


class History(Generic[T]):
    def __init__(self, initial: T, *, limit: int = 1000, merge_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._undo: list[T] = []
        self._redo: list[T] = []
        self._present = initial
        self._limit = limit
        self._merge_seconds = merge_seconds
        self._clock = clock
        self._last_key: object = None
        self._last_time = float("-inf")

    @property
    def present(self) -> T:
        return self._present

    def reset(self, state: T) -> None:
        self._undo.clear()
        self._redo.clear()
        self._present = state
        self._last_key = None

    def push(self, state: T, *, merge_key: object = None) -> None:
        now = self._clock()
        merge = (merge_key is not None and merge_key == self._last_key
                 and now - self._last_time <= self._merge_seconds and self._undo)
        if not merge:
            self._undo.append(self._present)
            del self._undo[:-self._limit]
        self._present = state
        self._redo.clear()
        self._last_key, self._last_time = merge_key, now

    def replace(self, state: T) -> None:
        """Change the present without a new undo step (e.g. a fix-up after loading)."""
        self._present = state

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> T | None:
        if not self._undo:
            return None
        self._redo.append(self._present)
        self._present = self._undo.pop()
        self._last_key = None
        return self._present

    def redo(self) -> T | None:
        if not self._redo:
            return None
        self._undo.append(self._present)
        self._present = self._redo.pop()
        self._last_key = None
        return self._present

    def timeline(self) -> tuple[list[T], int]:
        """Every step, oldest first, and the index of the present among them (for the journal)."""
        steps = [*self._undo, self._present, *reversed(self._redo)]
        return steps, len(self._undo)

    def restore(self, steps: list[T], position: int) -> None:
        """Make ``steps[position]`` the present, with the steps before it to undo and after it to redo."""
        if not 0 <= position < len(steps):
            raise IndexError(f"position {position} is outside the {len(steps)} steps")
        self._undo = list(steps[:position])[-self._limit:]
        self._present = steps[position]
        self._redo = list(reversed(steps[position + 1:]))
        self._last_key = None
