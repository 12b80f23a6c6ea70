"""Comparing with the reference fixtures in ../shared/fixtures (their README sets the tolerance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def close(got, expected) -> bool:
    """Equal to the fixtures' tolerance: 1e-4 of the larger of 1 and the expected magnitude."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    return np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())


def higan_pixels(image_nchw) -> np.ndarray:
    """Raw generator output as HiGAN turns it into pixels, written out here so the
    engine's own conversion is checked against it rather than used as the answer."""
    return np.clip((np.asarray(image_nchw) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def change_by_entry(g, wp) -> list[float]:
    """How far the image moves when each W+ entry of ``wp`` is moved by 1 (max abs difference)."""
    import torch

    with torch.inference_mode():
        ref = g.synthesize(wp)
        out = []
        for j in range(g.num_layers):
            moved = wp.clone()
            moved[:, j] += 1.0
            out.append(float((g.synthesize(moved) - ref).abs().max()))
    return out
