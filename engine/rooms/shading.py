"""How a room looks: its materials and lights (:func:`palette`) and the per-pixel ray cast (:func:`shade`).

Pure torch, vectorised over a chunk of images. Masks are float 0/1 tensors
(``*`` is and, ``maximum`` is or), several times faster on CPU than bool
masks fed to ``torch.where``.
"""

from __future__ import annotations

import functools
import math

import torch

from strata.engine.rooms.layout import (BACK, BED, CEILING, CLUTTER, FOCAL, HEADBOARD, LAMP_BASE, NUM_BOXES, PILLOWS,
                                        PITCH, SHADE, STAND, union)
from strata.engine.rooms.semantics import RoomParams, filled, nuisance

__all__ = ["palette", "shade"]

# Materials: per image a palette row (albedo and emission); a pixel picks one
# and a brightness factor (wood grain, curtain folds, ...). Layers drawn later
# have larger indices, so that "the later layer wins" is a maximum. Box slot k
# is material _M_BOX + k.
(_M_WALL, _M_CEIL, _M_TRIM, _M_WOOD, _M_CARPET, _M_RUG, _M_RUG_EDGE, _M_WIN_FRAME, _M_GLASS, _M_TREES,
 _M_CURTAIN, _M_ROD, _M_PIC_FRAME, _M_PIC_A, _M_PIC_B, _M_PIC_C) = range(16)
_M_BOX = 16
(_M_BED_FRAME, _M_SHEET, _M_FOLD, _M_CLOTH0, _M_CLOTH1, _M_GLOW) = range(_M_BOX + NUM_BOXES, _M_BOX + NUM_BOXES + 6)
_NUM_MATERIALS = _M_GLOW + 1

_LIGHT_RGB = (1.0, 0.78, 0.5)    # warm artificial light
_DAY_RGB = (0.9, 0.96, 1.06)     # cool daylight


def _hsv(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """HSV (hue in [0, 1) turns) to RGB, stacked on a new last axis."""
    h6 = h * 6.0
    out = []
    for k0 in (5.0, 3.0, 1.0):
        k = torch.remainder(k0 + h6, 6.0)
        out.append(v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(out, dim=-1)


def _hash01(*values: torch.Tensor) -> torch.Tensor:
    """A cheap hash of integer-valued float tensors to [0, 1), for texture noise.

    Sine-free (``sin`` is slow on CPU): a fractional-multiply hash.
    """
    x = None
    for i, k in enumerate(values):
        term = k * (0.1031, 0.1030, 0.0973)[i % 3]
        x = term if x is None else x + term
    x = torch.frac(x)
    x = x * (x + 33.33)
    return torch.frac((x + x) * x)


def _lerp(a, b, t):
    return a + (b - a) * t


def palette(p: RoomParams) -> dict[str, torch.Tensor]:
    """Each image's materials (``albedo`` and ``emission``, ``[n, materials, 3]``) and its
    ``ambient`` light colour ``[n, 3]``: all the colour a room has before it is lit."""
    dev = p.device
    n = len(p)

    nu = functools.partial(nuisance, p)
    full = functools.partial(filled, p)

    def rgb(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=dev).expand(n, 3)

    table = p.nightstand > 0.5  # the lamp stands on the nightstand when there is one
    day = p.natural_lighting > 0.5
    s: dict[str, torch.Tensor] = {}

    # Materials: what each surface reflects, and what glows.
    frame_tone = nu("frame_tone")
    frame_rgb = _hsv(full(0.07), 0.35 + 0.25 * frame_tone, 0.25 + 0.55 * frame_tone)
    bedding_rgb = _hsv(p.bedding_hue * (240.0 / 360.0), full(0.55), full(0.82))
    pillow_rgb = _lerp(rgb(0.95, 0.95, 0.93), rgb(0.9, 0.85, 0.72), nu("pillow_tone")[:, None])
    shade_rgb = torch.where(table[:, None],
                            _lerp(rgb(0.95, 0.92, 0.85), rgb(0.85, 0.72, 0.5), nu("shade_tone")[:, None]),
                            _lerp(rgb(0.12, 0.12, 0.13), rgb(0.15, 0.3, 0.25), nu("shade_tone")[:, None]))
    albedo = {
        _M_BOX + BED: bedding_rgb,
        _M_BOX + HEADBOARD: torch.where(nu("headboard_fabric")[:, None] < 0.5, frame_rgb,
                                _hsv(nu("headboard_fabric"), full(0.15), full(0.55))),
        _M_BOX + PILLOWS: pillow_rgb,
        _M_BOX + STAND: _hsv(full(0.07), full(0.45), 0.3 + 0.4 * nu("stand_width")),
        _M_BOX + SHADE: shade_rgb,
        _M_BOX + LAMP_BASE: rgb(0.15, 0.14, 0.13),
        **{_M_BOX + k: _hsv(nu(f"clutter_hue{i}"), full(0.7), 0.55 + 0.35 * nu(f"clutter_h{i}"))
           for i, k in enumerate(CLUTTER)},
        _M_WALL: _hsv(_lerp(25.0, 215.0, p.wall_hue) / 360.0,
                      0.04 + 0.56 * p.wall_saturation,
                      0.45 + 0.5 * p.wall_brightness),
        _M_TRIM: rgb(0.9, 0.88, 0.84),
        _M_CEIL: rgb(0.92, 0.91, 0.89),
        _M_WOOD: _hsv(0.06 + 0.03 * nu("wood_hue"), full(0.62), 0.32 + 0.45 * nu("wood_tone")),
        _M_CARPET: _hsv(nu("carpet_hue"), 0.05 + 0.2 * nu("carpet_sat"), 0.4 + 0.35 * nu("carpet_val")),
        _M_RUG: _hsv(nu("rug_hue"), full(0.55), 0.4 + 0.35 * nu("rug_val")),
        _M_RUG_EDGE: _hsv(nu("rug_hue2"), full(0.45), 0.3 + 0.5 * nu("rug_val")),
        _M_WIN_FRAME: rgb(0.9, 0.9, 0.88),
        _M_GLASS: rgb(0.0, 0.0, 0.0),
        _M_TREES: rgb(0.0, 0.0, 0.0),
        _M_CURTAIN: _hsv(nu("curtain_hue"), full(0.45), 0.45 + 0.45 * nu("curtain_val")),
        _M_ROD: rgb(0.12, 0.1, 0.09),
        _M_PIC_FRAME: _lerp(rgb(0.1, 0.08, 0.06), rgb(0.75, 0.6, 0.3), nu("painting_frame")[:, None]),
        _M_PIC_A: _hsv(nu("painting_hue_a"), full(0.5), full(0.85)),
        _M_PIC_B: _hsv(nu("painting_hue_b"), full(0.7), full(0.55)),
        _M_PIC_C: _hsv(nu("painting_hue_c"), full(0.85), full(0.9)),
        _M_BED_FRAME: frame_rgb,
        _M_SHEET: pillow_rgb,
        _M_FOLD: bedding_rgb * 0.8 + 0.2,
        _M_CLOTH0: _hsv(nu("cloth_hue0"), full(0.75), full(0.8)),
        _M_CLOTH1: _hsv(nu("cloth_hue1"), full(0.75), full(0.8)),
        _M_GLOW: shade_rgb,
    }
    s["albedo"] = torch.stack([albedo[m].expand(n, 3) for m in range(_NUM_MATERIALS)], dim=1)  # [n, M, 3]
    emission = torch.zeros(n, _NUM_MATERIALS, 3, device=dev)
    indoor = p.indoor_lighting
    glow = (1.15 * indoor)[:, None] * rgb(*_LIGHT_RGB)
    emission[:, _M_BOX + SHADE] = torch.where(table[:, None], glow, 0.0)   # a table lamp's shade glows all over
    emission[:, _M_GLOW] = glow                                     # a pendant glows from below
    emission[:, _M_GLASS] = torch.where(day[:, None], rgb(0.85, 1.0, 1.25), rgb(0.04, 0.05, 0.11))
    emission[:, _M_TREES] = torch.where(day[:, None], rgb(0.25, 0.42, 0.2), rgb(0.03, 0.04, 0.08))
    s["emission"] = emission

    # Ambient light: warm indoor light, cool daylight.
    sun = day.float()
    warm = rgb(1.0, 0.86, 0.7)
    s["ambient"] = (0.3 + 0.25 * indoor + 0.55 * sun)[:, None] * _lerp(warm, rgb(*_DAY_RGB), 0.8 * sun[:, None])
    return s


def _mask(op, a, b) -> torch.Tensor:
    """``op(a, b)`` as a float32 0/1 mask; ``a`` must be a tensor.

    On CPU, float-valued comparisons combined with ``*`` (and) and
    ``maximum`` (or) run several times faster than bool masks fed to
    ``torch.where``, which has no vectorised kernel.
    """
    return op(a, b, out=torch.empty(_broadcast(a.shape, getattr(b, "shape", ())), device=a.device))


@functools.lru_cache(maxsize=256)
def _broadcast(a: torch.Size, b: torch.Size) -> torch.Size:
    return torch.broadcast_shapes(a, b)  # slow enough in Python to be worth caching


def _lt(a, b) -> torch.Tensor:
    """Float mask of ``a < b`` (either may be a Python number)."""
    return _mask(torch.lt, a, b) if isinstance(a, torch.Tensor) else _mask(torch.gt, b, a)


def _eq(a, b) -> torch.Tensor:
    """Float mask of ``a == b`` (either may be a Python number)."""
    return _mask(torch.eq, a, b) if isinstance(a, torch.Tensor) else _mask(torch.eq, b, a)


def shade(s: dict[str, torch.Tensor], u: torch.Tensor, v: torch.Tensor, boxes: list[int],
           labels: bool = False) -> torch.Tensor:
    """Ray-cast one chunk of rooms; returns RGB ``[c, 3, H, W]`` in [0, 1]
    (or, with ``labels``, the :func:`surface_map` codes as ``[c, 1, H, W]``).

    ``u``, ``v`` are the ``[H, W]`` pixel-centre coordinates; ``boxes`` lists
    the box slots present in some image of the chunk. Per-pixel quantities
    are ``[c, H, W]``; masks are float 0/1 (``*`` is and, ``maximum`` is
    or). Work on an object is limited to the rectangle of rows and columns
    that its projection covers in some image of the chunk. A pixel's
    material indexes its image's palette, and later layers win by having
    larger indices.
    """
    dev = u.device
    c = s["hw"].shape[0]
    H, W = u.shape

    def col(x: torch.Tensor) -> torch.Tensor:      # [c] -> [c, 1, 1]
        return x[:, None, None]

    def rect(bounds: torch.Tensor):
        """Rows and columns covered by screen bounds ``[c, 4]`` (u0, u1, v0, v1), or None."""
        u0, u1 = bounds[:, 0].min().item(), bounds[:, 1].max().item()
        v0, v1 = bounds[:, 2].min().item(), bounds[:, 3].max().item()
        if not (u0 <= u1 and v0 <= v1):
            return None
        c0 = max(0, math.floor((u0 + 1) / 2 * W - 0.5) - 1)
        c1 = min(W, math.ceil((u1 + 1) / 2 * W - 0.5) + 2)
        r0 = max(0, math.floor((1 - v1) / 2 * H - 0.5) - 1)
        r1 = min(H, math.ceil((1 - v0) / 2 * H - 0.5) + 2)
        if r0 >= r1 or c0 >= c1:
            return None
        return (slice(None), slice(r0, r1), slice(c0, c1))

    def update(target: torch.Tensor, where, value: torch.Tensor) -> None:
        target[where] = value

    # ---- rays
    cam = s["cam"]
    cam_x, cam_y, cam_z = col(cam[:, 0]), col(cam[:, 1]), col(cam[:, 2])
    y1 = v * math.cos(PITCH) - FOCAL * math.sin(PITCH)
    z1 = v * math.sin(PITCH) + FOCAL * math.cos(PITCH)
    ca, sa = col(s["cos_yaw"]), col(s["sin_yaw"])
    dx = u * ca + z1 * sa                            # [c, H, W]
    dz = z1 * ca - u * sa
    dy = y1                                          # the pitch is fixed, so dy is shared: [H, W]
    # A component of exactly zero (it happens) would make 0 * inf below.
    dx, dy = dx + _eq(dx, 0.0) * 1e-7, dy + _eq(dy, 0.0) * 1e-7
    ix, iy, iz = 1.0 / dx, 1.0 / dy, 1.0 / dz

    # ---- room: the ray's exit point from the (convex) box of the room
    hw, depth = col(s["hw"]), col(s["depth"])
    right = _lt(0.0, dx)
    up = _lt(0.0, dy)
    tx = ((2 * right - 1) * hw - cam_x) * ix
    ty = (up * CEILING - cam_y) * iy
    t = (depth - cam_z) * iz
    side = _lt(tx, t)
    t = torch.minimum(t, tx)
    flat = _lt(ty, t)                                # floor or ceiling
    t = torch.minimum(t, ty)
    side = side * (1 - flat)
    is_right = side * right
    is_ceil = flat * up
    floor = flat - is_ceil
    wall = 1 - flat
    surf = side + is_right + 3 * floor + 4 * is_ceil   # BACK, LEFT, RIGHT, FLOOR, CEIL

    # ---- boxes: a slab test per box within its rectangle, keeping the
    # nearest hit, its slot and the axis of the face it enters by.
    # Every box lies beyond the camera in z and every ray has dz > 0, so the
    # z slab is entered at lo and left at hi. An absent box sits far beyond
    # the back wall, where it never wins.
    slot = torch.full((c, H, W), -1.0, device=dev)
    face = torch.zeros(c, H, W, device=dev)          # 0 z, 1 x, 2 y
    for k in boxes:
        where = rect(s["box_bounds"][:, k])
        if where is None:
            continue
        o_lo = s["lo"][:, k] - cam
        o_hi = s["hi"][:, k] - cam
        izc, ixc, iyc = iz[where], ix[where], iy[where[1:]]
        tz0 = col(o_lo[:, 2]) * izc
        tz1 = col(o_hi[:, 2]) * izc
        ta, tb = col(o_lo[:, 0]) * ixc, col(o_hi[:, 0]) * ixc
        tx0, tx1 = torch.minimum(ta, tb), torch.maximum(ta, tb)
        if (o_hi[:, 1] < 0).all():
            # Below every camera: a ray enters through the top (or, going
            # up, not at all: then ty0 > ty1 and it misses).
            ty0, ty1 = col(o_hi[:, 1]) * iyc, col(o_lo[:, 1]) * iyc
        else:
            ta, tb = col(o_lo[:, 1]) * iyc, col(o_hi[:, 1]) * iyc
            ty0, ty1 = torch.minimum(ta, tb), torch.maximum(ta, tb)
        t_xz = torch.maximum(tz0, tx0)
        t_near = torch.maximum(t_xz, ty0)
        t_far = torch.minimum(torch.minimum(tz1, tx1), ty1)
        t_near = t_near + _lt(t_far, t_near) * 1e6   # a miss lands far behind every wall
        t_here = t[where]                            # views: updated in place
        nearer = _lt(t_near, t_here)
        by_y = _lt(t_xz, ty0)
        axis = by_y + by_y + (1 - by_y) * _lt(tz0, tx0)
        torch.minimum(t_here, t_near, out=t_here)
        slot_here = slot[where]
        slot_here.add_(nearer * (k - slot_here))
        face_here = face[where]
        face_here.add_(nearer * (axis - face_here))
    on_box = _lt(-0.5, slot)
    if labels:
        return (surf + on_box * (5 - surf))[:, None]
    room = 1 - on_box
    px = cam_x + t * dx
    py = cam_y + t * dy
    pz = cam_z + t * dz

    # Normals. A box's face is entered against the ray, so its normal's
    # sign is the opposite of the ray's.
    if boxes:
        face_x = _eq(face, 1.0) * on_box
        face_y = _eq(face, 2.0) * on_box
        face_z = on_box - face_x - face_y
        top = face_y * (1 - up)
        nx = room * (side - 2 * is_right) + face_x * (1 - 2 * right)
        ny = room * (floor - is_ceil) + face_y * (1 - 2 * up)
        nz = -(room * (wall - side) + face_z)
    else:
        nx, ny, nz = side - 2 * is_right, floor - is_ceil, -(wall - side)

    # ---- room materials
    mat = torch.maximum(is_ceil * _M_CEIL, wall * torch.maximum(_lt(py, 0.1), _lt(CEILING - 0.06, py)) * _M_TRIM)
    factor = torch.ones(c, H, W, device=dev)

    # Floor: wooden planks running towards the back wall, or carpet; a rug.
    where = rect(s["floor_bounds"])
    if where is not None:
        fpx, fpz, fl = px[where], pz[where], floor[where]
        seed = col(s["seed"])
        wood = col(s["wood"])
        shade = 0.0
        if s["wood"].any():
            fx = (fpx + hw) / col(s["plank_w"])
            plank = torch.floor(fx)
            fz = fpz / col(s["plank_l"]) + _hash01(plank, seed)
            row = torch.floor(fz)
            tone = _hash01(plank, row, seed)
            seam = torch.maximum(_lt(fx - plank, 0.07), _lt(fz - row, 0.025))
            grain = 1.0 + 0.3 * ((torch.frac(fpx * 9.0 + fpz * 0.4 + tone * 3.0) - 0.5).abs_() - 0.25)
            shade = wood * ((0.78 + 0.35 * tone) * grain * (1 - 0.45 * seam))
        if not s["wood"].all():
            speck = 0.93 + 0.12 * _hash01(torch.floor(fpx * 30), torch.floor(fpz * 30), seed)
            shade = shade + (1 - wood) * speck
        fmat = fl * (_M_CARPET - wood)
        bare = fl
        if (s["rug_hw"] > 0).any():
            # rug_hw < 0 when there is no rug.
            rug_d = torch.maximum((fpx - col(s["rug_x"])).abs_() - col(s["rug_hw"]),
                                  torch.maximum(col(s["rug_z0"]) - fpz, fpz - col(s["rug_z1"])))  # < 0 inside
            in_rug = fl * _lt(rug_d, 0.0)
            edge = torch.maximum(_lt(-0.14, rug_d), _lt(torch.frac(fpz * 3.0), 0.22) * _lt(rug_d, -0.28))
            fmat = torch.maximum(fmat, in_rug * (_M_RUG + edge))
            bare = fl - in_rug
        update(mat, where, torch.maximum(mat[where], fmat))
        update(factor, where, 1 + bare * (shade - 1))

    # Window with frame, mullions and curtains on a rod.
    where = rect(s["window_bounds"])
    if where is not None:
        wpx, wpy, wpz = px[where], py[where], pz[where]
        win_wall = col(s["win_wall"])
        on_wall = _eq(surf[where], win_wall)
        ws = (wpx - wpz) * _eq(win_wall, BACK) + wpz - col(s["win_s"])
        wsa = ws.abs()
        wy = wpy - col(s["win_y0"])
        win_hw, win_h = col(s["win_hw"]), col(s["win_h"])
        in_win = on_wall * _lt(wsa, win_hw) * _lt(0.0, wy) * _lt(wy, win_h)
        frame_w = 0.055
        glass = in_win * _lt(wsa, win_hw - frame_w) * _lt(frame_w, wy) * _lt(wy, win_h - frame_w) \
            * _lt(0.022, wsa) * _lt(0.022, (wy - 0.62 * win_h).abs_())
        fy = wy / win_h
        bumps = (torch.frac(ws * 3.1) - 0.5).abs_() * 0.2 + (torch.frac(ws * 7.3) - 0.5).abs_() * 0.1
        trees = glass * _lt(fy, 0.08 + bumps)
        rod_y = col(s["win_y0"]) + win_h + 0.14
        curtain = on_wall * _lt(win_hw - frame_w, wsa) * _lt(wsa, win_hw + 0.28) \
            * _lt(wpy, rod_y) * _lt(torch.clamp(col(s["win_y0"]) - 0.45, min=0.12), wpy)
        rod = on_wall * _lt((wpy - rod_y).abs_(), 0.02) * _lt(wsa, win_hw + 0.34)
        wmat = torch.maximum(torch.maximum(in_win * _M_WIN_FRAME, glass * _M_GLASS + trees),
                             torch.maximum(curtain * _M_CURTAIN, rod * _M_ROD))
        update(mat, where, torch.maximum(mat[where], wmat))
        update(factor, where, factor[where] + (glass - trees) * (0.1 - 0.3 * fy)
               + curtain * (0.64 * (torch.frac(ws * 11.0) - 0.5).abs_() - 0.16))

    # Painting: a frame around two fields of colour and a disc.
    where = rect(s["painting_bounds"])
    if where is not None:
        pic_wall = col(s["pic_wall"])
        qpz = pz[where]
        qs = (px[where] - qpz) * _eq(pic_wall, BACK) + qpz - col(s["pic_s"])
        qsa = qs.abs()
        qy = py[where] - col(s["pic_y0"])
        pic_hw, pic_h = col(s["pic_hw"]), col(s["pic_h"])
        in_pic = _eq(surf[where], pic_wall) * _lt(qsa, pic_hw) * _lt(0.0, qy) * _lt(qy, pic_h)
        fr = 0.045
        canvas = in_pic * _lt(qsa, pic_hw - fr) * _lt(fr, qy) * _lt(qy, pic_h - fr)
        qv = qy / pic_h
        qu = qs / (2 * pic_hw) + 0.5
        lower = _lt(qv, col(s["pic_split"]) + 0.15 * (qu - 0.5))
        disc = _lt((qu - col(s["pic_disc"])) ** 2 + (qv - 0.72) ** 2, 0.018)
        pmat = torch.maximum(in_pic * _M_PIC_FRAME, canvas * (_M_PIC_A + torch.maximum(lower, 2 * disc)))
        update(mat, where, torch.maximum(mat[where], pmat))

    # ---- box materials: the slot, with details on the bed, pillows, nightstand, lamp
    if boxes:
        mat = mat * room + on_box * (_M_BOX + slot)
        factor = factor * room + on_box
        where = rect(union(s["box_bounds"][:, BED], s["box_bounds"][:, PILLOWS])) if BED in boxes else None
        if where is not None:
            bpx, bpy, bpz, bslot = px[where], py[where], pz[where], slot[where]
            is_bed = _eq(bslot, BED)
            bed_top = is_bed * top[where]
            fold_z = col(s["fold_z"])
            details = torch.maximum(
                (is_bed - bed_top) * _lt(bpy, 0.27) * _M_BED_FRAME,
                bed_top * _lt(fold_z - 0.16, bpz) * (_M_FOLD - _lt(fold_z, bpz)))
            if s["clutter"].any():
                cloth = s["cloth"]
                clutter = col(s["clutter"])
                for i, m in enumerate((_M_CLOTH0, _M_CLOTH1)):
                    on_cloth = bed_top * clutter * _lt((bpx - col(cloth[:, i, 0])).abs_(), col(cloth[:, i, 2])) \
                        * _lt((bpz - col(cloth[:, i, 1])).abs_(), col(cloth[:, i, 3]))
                    details = torch.maximum(details, on_cloth * m)
            update(mat, where, torch.maximum(mat[where], details))
            gap = _eq(bslot, PILLOWS) * _lt((bpx - col(s["bed_x"])).abs_(), 0.03)
            update(factor, where, factor[where] * (1 - 0.5 * gap))
        where = rect(s["box_bounds"][:, SHADE]) if SHADE in boxes and s["pendant"].any() else None
        if where is not None:
            glow = _eq(slot[where], SHADE) * col(s["pendant"]) * _lt(ny[where], -0.5)
            update(mat, where, torch.maximum(mat[where], glow * _M_GLOW))
        where = rect(s["box_bounds"][:, STAND]) if STAND in boxes else None
        if where is not None:
            spy = py[where]
            st_h = col(s["st_h"])
            drawer = _eq(slot[where], STAND) * (1 - top[where]) * torch.maximum(
                _lt((spy - (st_h - 0.2)).abs_(), 0.015),
                _lt((spy - (st_h - 0.1)).abs_(), 0.025) * _lt((px[where] - col(s["st_x"])).abs_(), 0.03))
            update(factor, where, factor[where] * (1 - 0.5 * drawer))

    # ---- lighting
    # Ambient occlusion towards the room's edges: of the distances to the
    # nearest x, y and z planes one is ~0 (the surface's own), so the edge
    # distance is the median of the three.
    d_x = hw - px.abs()
    d_y = torch.minimum(py, CEILING - py)
    d_z = depth - pz
    edge = d_x + d_y + d_z - torch.maximum(torch.maximum(d_x, d_y), d_z) - torch.minimum(torch.minimum(d_x, d_y), d_z)
    occl = 1.0 - 0.35 / (1.0 + (edge * 4.0) ** 2)
    # Contact shadows on the floor around the bed and the nightstand.
    where = rect(s["shadow_bounds"])
    if where is not None:
        spx, spz = px[where], pz[where]
        near2 = None
        for k in (BED, STAND):
            lo, hi = s["lo"][:, k], s["hi"][:, k]
            sx = torch.maximum(col(lo[:, 0]) - spx, spx - col(hi[:, 0])).clamp_(min=0)
            sz = torch.maximum(col(lo[:, 2]) - spz, spz - col(hi[:, 2])).clamp_(min=0)
            d2 = sx * sx + sz * sz
            near2 = d2 if near2 is None else torch.minimum(near2, d2)
        update(occl, where, occl[where] * (1 - (floor * room)[where] * 0.55 / (1.0 + near2 * 60.0) ** 2))
    occl = (occl * room + on_box) * (0.93 + 0.07 * ny)

    def point_light(pos, power, radius2):
        lx = col(pos[:, 0]) - px
        ly = col(pos[:, 1]) - py
        lz = col(pos[:, 2]) - pz
        d2 = lx * lx + ly * ly + lz * lz
        cos = (nx * lx + ny * ly + nz * lz) * torch.rsqrt(d2 + 1e-6)
        return col(power) * cos.clamp_(min=0) / (1.0 + d2 / col(radius2))

    e_lamp = point_light(s["lamp_pos"], s["lamp_power"], s["lamp_radius2"])
    e_win = point_light(s["win_pos"], s["win_power"], s["win_radius2"]) if s["win_power"].any() else 0.0

    # ---- look up the palette and light it
    M = _NUM_MATERIALS
    index = (mat.long() + torch.arange(c, device=dev)[:, None, None] * M).view(-1)
    palette = torch.cat([s["albedo"], s["emission"]], dim=-1).permute(2, 0, 1).reshape(6, c * M)
    looked = palette[:, index].view(6, c, H, W)      # channel-first: contiguous per channel
    vignette = 1.25 * (1.0 - 0.18 * (u * u + v * v))
    out = []
    for ch in range(3):
        light = col(s["ambient"][:, ch]) * occl + _LIGHT_RGB[ch] * e_lamp + _DAY_RGB[ch] * e_win
        x = (looked[ch] * light + looked[3 + ch]) * factor
        # A soft shoulder instead of a hard clip, and a faint vignette.
        out.append((x / (1.0 + 0.25 * x) * vignette).clamp_(0.0, 1.0))
    return torch.stack(out, dim=1)
