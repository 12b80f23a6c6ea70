"""Drawing rooms: a batch of :class:`~strata.engine.rooms.semantics.RoomParams` to images.

Every image is a bedroom seen in perspective from inside the room: a back
wall, two side walls, floor and ceiling, cast per pixel as rays against
planes and axis-aligned boxes (pure torch, vectorised over the batch, no
assets). :mod:`strata.engine.rooms.layout` places everything,
:mod:`strata.engine.rooms.shading` colours and lights it.

Images are float32 ``[n, 3, H, W]`` in [-1, 1] (the GAN convention).

Exports: :func:`render_rooms`, :func:`surface_map`, :func:`sample_rooms`.
"""

from __future__ import annotations

import torch

from strata.engine.rooms.layout import room_layout, screen
from strata.engine.rooms.semantics import RoomParams, sample_params, scores_of
from strata.engine.rooms.shading import palette, shade

__all__ = ["render_rooms", "sample_rooms", "surface_map"]


def render_rooms(params: RoomParams, resolution: int, *, chunk: int | None = None) -> torch.Tensor:
    """Render rooms from explicit parameters.

    Parameters
    ----------
    params : RoomParams
        A batch of ``n`` rooms.
    resolution : int
        Output height and width in pixels (8 or more).
    chunk : int, optional
        Images shaded together; the default keeps about 128k pixels per
        chunk, so that the per-pixel temporaries stay in cache.

    Returns
    -------
    torch.Tensor
        float32 ``[n, 3, resolution, resolution]`` in [-1, 1], on the
        device of ``params``.
    """
    return _render(params, resolution, chunk, labels=False)


def surface_map(params: RoomParams, resolution: int) -> torch.Tensor:
    """What each pixel sees: int64 ``[n, resolution, resolution]``.

    0 back wall, 1 left wall, 2 right wall, 3 floor, 4 ceiling, 5 a 3-D
    object (bed, nightstand, lamp, clutter). Pictures, windows and rugs are
    part of the surface they hang on or lie on. Meant for tests and
    analysis: it tells which pixels a semantic may change.
    """
    return _render(params, resolution, None, labels=True)[:, 0].round().long()


def _render(params: RoomParams, resolution: int, chunk: int | None, labels: bool) -> torch.Tensor:
    if not isinstance(params, RoomParams):
        raise TypeError(f"params must be RoomParams, got {type(params).__name__}")
    if int(resolution) != resolution or resolution < 8:
        raise ValueError(f"resolution must be an integer >= 8, got {resolution}")
    resolution = int(resolution)
    if chunk is None:
        chunk = max(1, (1 << 17) // (resolution * resolution))
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    n = len(params)
    out = torch.empty(n, 1 if labels else 3, resolution, resolution, device=params.device)
    with torch.inference_mode():
        scene = room_layout(params)
        if not labels:  # a surface map needs no colours
            scene.update(palette(params))
        present = scene.pop("present")                          # [n, K]
        # Images with the same objects render together, so that a chunk
        # skips the boxes and the wall and floor details none of its images has.
        order = torch.argsort(scene.pop("group"), stable=True)
        u, v = screen(resolution, params.device)
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            part = {key: value[idx] for key, value in scene.items()}
            boxes = present[idx].any(0).nonzero()[:, 0].tolist()
            result = shade(part, u, v, boxes, labels=labels)   # [c, 3 or 1, H, W]
            out[idx] = result if labels else result.mul(2.0).sub(1.0)
    return out


def sample_rooms(n: int, seed: int, *, resolution: int = 64, device="cpu"
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sample and render ``n`` rooms, reproducibly from ``seed``.

    Returns
    -------
    images : torch.Tensor
        float32 ``[n, 3, resolution, resolution]`` in [-1, 1].
    scores : dict[str, torch.Tensor]
        name -> float32 ``[n]``, one entry per item of
        :data:`~strata.engine.rooms.semantics.SEMANTICS`.
    """
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    params = sample_params(n, generator).to(device)
    return render_rooms(params, resolution), scores_of(params)
