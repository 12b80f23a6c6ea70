"""Zoom arithmetic of the scene view: steps, fit, drawn size and placement (plain numbers, no Qt).

Zooms are device pixels per image pixel; sizes and positions are logical
pixels, placed on whole device pixels (``dpr`` device pixels per logical one).
"""

from __future__ import annotations

import math

# Zoom steps, in device pixels per image pixel. Above 1 they are whole numbers, so that
# nearest-neighbour blocks are all the same size; a step that crosses "fit" stops there.
ZOOM_LEVELS = (1 / 16, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
               8.0, 10.0, 12.0, 16.0, 20.0, 24.0, 32.0)
WHEEL_NOTCH = 120  # angleDelta of one mouse-wheel notch


def clamp_zoom(zoom: float) -> float:
    """``zoom`` kept within the first and last of `ZOOM_LEVELS`."""
    return min(max(float(zoom), ZOOM_LEVELS[0]), ZOOM_LEVELS[-1])


def fit_zoom(room: tuple[int, int], image: tuple[int, int], dpr: float) -> float:
    """The zoom that fits an ``image`` (width, height) in ``room`` (width, height), aspect kept."""
    return min(room[0] / image[0], room[1] / image[1]) * dpr


def drawn_size(image: tuple[int, int], zoom: float, dpr: float) -> tuple[float, float]:
    """The image's drawn size in logical pixels, a whole number of device pixels."""
    return (max(1.0, round(image[0] * zoom) / dpr), max(1.0, round(image[1] * zoom) / dpr))


def snap(x: float, dpr: float) -> float:
    """``x`` moved to the nearest whole device pixel."""
    return round(x * dpr) / dpr


def place(size: float, room: int, scrolled: int, dpr: float) -> float:
    """Where a drawn ``size`` starts along one axis: centred in ``room`` if it fits, else scrolled."""
    if size <= room:  # centred
        return snap((room - size) / 2, dpr)
    return snap(-scrolled, dpr)


def scroll_range(size: float, room: int) -> int:
    """The scroll bar's maximum that pans a drawn ``size`` across ``room``."""
    return max(0, math.ceil(size) - room)


def anchored_scroll(anchor: float, old_start: float, old_size: float, new_size: float) -> int:
    """The scroll value that keeps the image point under ``anchor`` there after a resize."""
    return round((anchor - old_start) / old_size * new_size - anchor)


def next_zoom(now: float, fit: float, direction: int) -> float | None:
    """The zoom one step of `ZOOM_LEVELS` from ``now``: larger (``direction`` > 0) or smaller.

    ``None`` when the step reaches or crosses ``fit``: the view stops at
    "fit" there. At either end of the levels, ``now`` itself (or nearly).
    """
    if direction > 0:
        target = next((z for z in ZOOM_LEVELS if z > now * 1.001), ZOOM_LEVELS[-1])
        crosses_fit = now < fit * 0.999 and target > fit * 1.001
    else:
        target = next((z for z in reversed(ZOOM_LEVELS) if z < now / 1.001), ZOOM_LEVELS[0])
        crosses_fit = now > fit * 1.001 and target < fit * 0.999
    if crosses_fit or abs(target - fit) < 1e-6 * fit:
        return None
    return target


def close_look(fit: float) -> float:
    """The zoom a double-click on a fitted image goes to.

    1:1 when the fitted image is reduced, else twice the fitted size (1:1
    would shrink a small scene).
    """
    return 1.0 if fit < 1.0 else next((z for z in ZOOM_LEVELS if z >= 2 * fit), ZOOM_LEVELS[-1])


def wheel_steps(rest: int, delta: int) -> tuple[int, int]:
    """Zoom steps for a wheel turn of ``delta`` on top of ``rest``; return (steps, new rest).

    Trackpads send small deltas: they add up to whole notches. A change of
    direction starts afresh.
    """
    if rest and (rest > 0) != (delta > 0):
        rest = 0
    rest += delta
    steps = int(rest / WHEEL_NOTCH)
    return steps, rest - steps * WHEEL_NOTCH
