"""Preview strips: one scene at several strengths of one edit, as in the paper's figures.

Rendered as one batch from the renderer's cached activations: the layers
before the edit's first layer run once, for the scene itself, and only the
layers from there on run for the strengths. Saved as a PNG strip or an
animated GIF that sweeps the strengths back and forth.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.edits import Edit, apply_edits
from strata.engine.core.render import Renderer, to_uint8
from strata.engine.core.scene import Scene

__all__ = ["StripRequest", "StripResult", "DEFAULT_STRENGTHS", "render_strip", "strip_png_bytes", "strip_gif_bytes"]

DEFAULT_STRENGTHS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True, eq=False)
class StripRequest:
    stamp: int
    model_path: str
    scene: Scene
    row: int
    strengths: tuple[float, ...] = DEFAULT_STRENGTHS
    precision: str = "exact"


@dataclass(frozen=True, eq=False)
class StripResult:
    request: StripRequest
    images: np.ndarray | None = None  # uint8 [k, H, W, 3]
    seconds: float = 0.0
    error: str = ""


def render_strip(renderer: Renderer, scene: Scene, row: int, strengths=DEFAULT_STRENGTHS,
                 model_path: str | None = None, *, precision: str = "exact") -> np.ndarray:
    """Images of ``scene`` with edit ``row`` set to each strength (the other edits kept).

    The tile at the row's own strength is the scene's frame, pixel for pixel.
    """
    if model_path is not None:
        renderer.load(model_path)
    g = renderer.model.generator
    base = scene.edits[row]
    with torch.inference_mode():
        wp = renderer.edited_wp(scene)  # also checks every edit and sets the model's input
        # The scene itself through the cache: it holds the activations the strengths share.
        renderer.synthesize(wp, precision)
        code = renderer.base_wp(scene)
        batch = torch.cat([
            apply_edits(code, [e if i != row else Edit(base.boundary, float(s), base.layers)
                               for i, e in enumerate(scene.edits)],
                        truncation_psi=scene.psi, truncation_layers=g.truncation_layers)
            for s in strengths])
        return to_uint8(renderer.synthesize(batch, precision, update=False))


def _labelled(images: np.ndarray, strengths) -> list:
    from PIL import Image, ImageDraw
    out = []
    for img, s in zip(images, strengths):
        im = Image.fromarray(img)
        if im.width < 128:
            im = im.resize((128, 128 * im.height // im.width), Image.NEAREST)
        d = ImageDraw.Draw(im)
        d.rectangle([0, im.height - 14, 40, im.height], fill=(0, 0, 0))
        d.text((3, im.height - 13), f"{s:+.1f}", fill=(255, 255, 255))
        out.append(im)
    return out


def strip_png_bytes(images: np.ndarray, strengths) -> bytes:
    from PIL import Image
    tiles = _labelled(images, strengths)
    w, h, gap = tiles[0].width, tiles[0].height, 4
    sheet = Image.new("RGB", (len(tiles) * (w + gap) - gap, h), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * (w + gap), 0))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


def strip_gif_bytes(images: np.ndarray, strengths, *, frame_ms: int = 250) -> bytes:
    """A looping GIF that sweeps the strengths forward and back."""
    tiles = _labelled(images, strengths)
    frames = tiles + tiles[-2:0:-1]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buf.getvalue()


def save_strip(images: np.ndarray, strengths, path: str | Path) -> None:
    path = Path(path)
    data = strip_gif_bytes(images, strengths) if path.suffix.lower() == ".gif" else strip_png_bytes(images, strengths)
    atomic_write_bytes(path, data)
