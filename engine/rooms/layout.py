"""Where everything in a room is: the camera, the room's box, the furniture, and the lights.

:func:`room_layout` turns a batch of :class:`~strata.engine.rooms.semantics.RoomParams`
into per-image geometry (batch-first tensors), once per batch, so that
shading (:mod:`strata.engine.rooms.shading`) only does per-pixel work. It also
projects every object to a screen rectangle, so that shading can skip the
pixels an object never covers.

Coordinates: metres, x to the right, y up from the floor, z from the front
wall toward the back wall. The screen spans [-1, 1] in u (right) and v (up).
"""

from __future__ import annotations

import functools
import math

import torch

from strata.engine.rooms.semantics import RoomParams, filled, nuisance

__all__ = ["room_layout", "screen", "union"]

CEILING = 2.6          # ceiling height, metres
PITCH = 0.18          # the camera looks down by this much, radians
MAX_YAW = 0.38         # camera turn at |view_yaw| = 1, radians
FOCAL = 1.0 / math.tan(math.radians(35.0))  # 70 degree horizontal field of view
CAM_Z = 0.2            # the camera stands just inside the front wall
BED_TOP = 0.52         # height of the mattress top

# Room surfaces hit by a ray.
BACK, LEFT, RIGHT, FLOOR, CEIL = 0, 1, 2, 3, 4

# Box slots.
BED, HEADBOARD, PILLOWS, STAND, SHADE, LAMP_BASE = 0, 1, 2, 3, 4, 5
CLUTTER = (6, 7, 8, 9)
NUM_BOXES = 10


def screen(resolution: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1], ``[H, W]`` each: u to the right, v up."""
    c = (torch.arange(resolution, device=device, dtype=torch.float32) + 0.5) / resolution * 2.0 - 1.0
    v, u = torch.meshgrid(-c, c, indexing="ij")
    return u.contiguous(), v.contiguous()


def _bounds(s: dict[str, torch.Tensor], points: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    """Screen bounds ``[n, 4]`` (u0, u1, v0, v1) of world ``points`` ``[n, m, 3]``.

    Empty (u0 > u1) where ``on`` is false; the whole screen where a point is
    behind the camera.
    """
    r = points - s["cam"][:, None, :]
    ca, sa = s["cos_yaw"][:, None], s["sin_yaw"][:, None]
    x1 = r[..., 0] * ca - r[..., 2] * sa
    z1 = r[..., 0] * sa + r[..., 2] * ca
    y_c = r[..., 1] * math.cos(PITCH) + z1 * math.sin(PITCH)
    z_c = z1 * math.cos(PITCH) - r[..., 1] * math.sin(PITCH)
    behind = (z_c < 0.05).any(dim=1, keepdim=True)
    z_c = z_c.clamp(min=0.05)
    u, v = FOCAL * x1 / z_c, FOCAL * y_c / z_c
    b = torch.stack([u.amin(1), u.amax(1), v.amin(1), v.amax(1)], dim=1).clamp(-1.5, 1.5)
    b = torch.where(behind, b.new_tensor([-1.5, 1.5, -1.5, 1.5]), b)
    return torch.where(on[:, None], b, b.new_tensor([math.inf, -math.inf, math.inf, -math.inf]))


def union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Screen bounds covering both ``a`` and ``b`` (each ``[n, 4]``)."""
    return torch.stack([torch.minimum(a[:, 0], b[:, 0]), torch.maximum(a[:, 1], b[:, 1]),
                        torch.minimum(a[:, 2], b[:, 2]), torch.maximum(a[:, 3], b[:, 3])], dim=1)


def _corners(n: int, device, x: tuple, y: tuple, z: tuple) -> torch.Tensor:
    """The corners ``[n, 8, 3]`` of boxes spanning ``x``, ``y``, ``z`` (pairs of
    floats or ``[n]`` tensors); a flat box repeats corners, which is harmless."""
    def full(value):
        return torch.as_tensor(value, dtype=torch.float32, device=device).expand(n)
    return torch.stack([torch.stack([full(a), full(b), full(d)], dim=-1) for a in x for b in y for d in z], dim=1)


def _in_view(s: dict[str, torch.Tensor], z: torch.Tensor, across: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    """x of a point at depth ``z`` that the camera sees ``across`` of the way
    from the centre of its view to the edge (-1 left, +1 right), kept within
    ``[-limit, limit]``."""
    cam_x, cam_z = s["cam"][:, 0], s["cam"][:, 2]
    x = cam_x + (z - cam_z) * (s["sin_yaw"] / s["cos_yaw"] + across / FOCAL)
    return torch.maximum(torch.minimum(x, limit), -limit)


def room_layout(p: RoomParams) -> dict[str, torch.Tensor]:
    """Everything placed per image (camera, boxes, walls' rectangles, lights, screen bounds), batch-first.

    Computed once for the whole batch so that the per-chunk shading only does
    per-pixel work. ``present`` ``[n, NUM_BOXES]`` says which boxes an image has, and
    ``group`` orders images by the objects they have.
    """
    dev = p.device
    n = len(p)

    nu = functools.partial(nuisance, p)
    full = functools.partial(filled, p)

    has = {name: getattr(p, name) > 0.5
           for name in ("bed", "window", "lamp", "painting", "rug", "nightstand", "clutter")}
    day = p.natural_lighting > 0.5
    s: dict[str, torch.Tensor] = {}
    group = torch.zeros(n, dtype=torch.int64, device=dev)
    for flag in ("bed", "clutter", "window", "lamp", "nightstand", "painting", "rug"):  # costliest first
        group = 2 * group + has[flag].long()
    s["group"] = 2 * group + (p.wood_floor > 0.5).long()

    # ---- camera and room
    hw = 1.8 + 0.4 * nu("room_width")               # half width of the room
    depth = 4.5 + 3.0 * p.room_depth                 # z of the back wall
    s["hw"], s["depth"] = hw, depth
    s["cam"] = torch.stack([-0.6 * p.view_yaw, 1.0 + 0.8 * p.camera_height, full(CAM_Z)], dim=-1)
    yaw = MAX_YAW * p.view_yaw
    s["cos_yaw"], s["sin_yaw"] = torch.cos(yaw), torch.sin(yaw)

    # ---- boxes
    lo = torch.zeros(n, NUM_BOXES, 3, device=dev)
    hi = torch.zeros(n, NUM_BOXES, 3, device=dev)
    present = torch.zeros(n, NUM_BOXES, dtype=torch.bool, device=dev)

    def put(k, x0, x1, y0, y1, z0, z1, on):
        lo[:, k, 0], hi[:, k, 0] = x0, x1
        lo[:, k, 1], hi[:, k, 1] = y0, y1
        lo[:, k, 2], hi[:, k, 2] = z0, z1
        present[:, k] = on

    # The bed's footprint exists even without a bed, so that toggling the bed
    # leaves the nightstand, rug and painting where they were.
    bed_w = 1.4 + 0.5 * nu("bed_width")
    bed_l = 1.9 + 0.3 * nu("bed_length")
    bed_x = (2 * nu("bed_x") - 1) * torch.clamp(hw - bed_w / 2 - 0.65, min=0.0)
    bed_z0 = depth - bed_l
    head_h = 0.9 + 0.35 * nu("headboard_height")
    put(BED, bed_x - bed_w / 2, bed_x + bed_w / 2, 0.0, BED_TOP, bed_z0, depth - 0.07, has["bed"])
    put(HEADBOARD, bed_x - bed_w / 2 - 0.05, bed_x + bed_w / 2 + 0.05, 0.0, head_h,
        depth - 0.08, depth - 0.005, has["bed"])
    put(PILLOWS, bed_x - bed_w / 2 + 0.1, bed_x + bed_w / 2 - 0.1, BED_TOP, BED_TOP + 0.15,
        depth - 0.55, depth - 0.1, has["bed"])
    s["bed_x"], s["fold_z"] = bed_x, depth - 0.75 - 0.25 * nu("sheet_fold")

    st_w = 0.5 + 0.15 * nu("stand_width")
    st_h = 0.55 + 0.12 * nu("stand_height")
    side = torch.where(nu("stand_side") < 0.5, -1.0, 1.0)
    offset = bed_w / 2 + 0.12 + st_w / 2
    st_x = bed_x + side * offset
    st_x = torch.where(st_x.abs() + st_w / 2 > hw - 0.03, bed_x - side * offset, st_x)
    put(STAND, st_x - st_w / 2, st_x + st_w / 2, 0.0, st_h, depth - 0.45, depth - 0.02, has["nightstand"])
    s["st_x"], s["st_h"] = st_x, st_h

    # Lamp: on the nightstand if there is one, else hanging from the ceiling.
    table = has["nightstand"]
    pend_z = 2.3 + (depth - 3.8) * nu("pendant_z")
    pend_x = _in_view(s, pend_z, 0.5 * (2 * nu("pendant_x") - 1), hw - 0.6)
    pend_y0 = CEILING - 0.8 - 0.3 * nu("pendant_drop")
    lamp_x = torch.where(table, st_x, pend_x)
    lamp_z = torch.where(table, depth - 0.24, pend_z)
    shade_y0 = torch.where(table, st_h + 0.24, pend_y0)
    shade_h = torch.where(table, 0.36, 0.22)
    shade_r = torch.where(table, 0.21, 0.26)
    put(SHADE, lamp_x - shade_r, lamp_x + shade_r, shade_y0, shade_y0 + shade_h,
        lamp_z - shade_r, lamp_z + shade_r, has["lamp"])
    base_y0 = torch.where(table, st_h, shade_y0 + shade_h)
    base_y1 = torch.where(table, st_h + 0.25, full(CEILING))
    base_r = torch.where(table, 0.05, 0.015)
    put(LAMP_BASE, lamp_x - base_r, lamp_x + base_r, base_y0, base_y1,
        lamp_z - base_r, lamp_z + base_r, has["lamp"])
    s["pendant"] = (~table).float()

    # Clutter lies in front of the bed, within the field of view.
    clutter_zmax = torch.clamp(bed_z0 - 0.3, min=2.4)
    for i, k in enumerate(CLUTTER):
        sx = 0.14 + 0.26 * nu(f"clutter_sx{i}")
        sz = 0.14 + 0.26 * nu(f"clutter_sz{i}")
        h = 0.04 + 0.26 * nu(f"clutter_h{i}") ** 2
        z = 2.1 + (clutter_zmax - 2.1) * nu(f"clutter_z{i}")
        x = _in_view(s, z, 0.6 * (2 * nu(f"clutter_x{i}") - 1), hw - 0.3)
        put(k, x - sx / 2, x + sx / 2, 0.0, h, z - sz / 2, z + sz / 2, has["clutter"])

    # Absent boxes move far beyond the back wall, where the wall hides them.
    lo[..., 2] = torch.where(present, lo[..., 2], 1000.0)
    hi[..., 2] = torch.where(present, hi[..., 2], 1001.0)
    s["lo"], s["hi"], s["present"] = lo, hi, present

    cloth = []
    for i in range(2):
        size = 0.3 + 0.25 * nu(f"cloth_s{i}")
        x = bed_x + (nu(f"cloth_x{i}") - 0.5) * (bed_w - size - 0.1)
        z = bed_z0 + 0.2 + size / 2 + (depth - 1.1 - bed_z0 - size) * nu(f"cloth_z{i}")
        cloth.append(torch.stack([x, z, size / 2, 0.7 * size / 2], dim=-1))
    s["cloth"] = torch.stack(cloth, dim=1)          # [n, 2, (x, z, half x, half z)]
    s["clutter"] = has["clutter"].float()

    # ---- floor and rug
    s["wood"] = (p.wood_floor > 0.5).float()
    s["plank_w"] = 0.16 + 0.1 * nu("plank_width")
    s["plank_l"] = 1.2 + 1.0 * nu("plank_length")
    s["seed"] = torch.floor(nu("texture_seed") * 1000)
    rug_w = torch.minimum(1.4 + 0.9 * nu("rug_width"), 2 * hw - 0.4)
    s["rug_x"] = torch.clamp(bed_x + (nu("rug_x") - 0.5) * 0.6, -hw + rug_w / 2 + 0.1, hw - rug_w / 2 - 0.1)
    s["rug_hw"] = torch.where(has["rug"], rug_w / 2, -1.0)
    s["rug_z0"] = bed_z0 - 0.8 - 0.6 * nu("rug_length")
    s["rug_z1"] = bed_z0 + 0.8

    # ---- window and painting: rectangles on a wall. The back wall holds one
    # of them; the other goes on the side wall the camera turns towards.
    side_wall = torch.where(p.view_yaw >= 0, RIGHT, LEFT)
    window_back = nu("window_side") < 0.5
    side_z_lo = torch.clamp(0.55 * depth, min=2.7)
    ww = 0.8 + 0.5 * nu("window_width")
    wh = 0.75 + 0.35 * nu("window_height")
    back_s = (2 * nu("window_pos") - 1) * (hw - ww / 2 - 0.45)
    s_lo, s_hi = side_z_lo + ww / 2 + 0.3, depth - ww / 2 - 0.4
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("window_pos")
    win_s = torch.where(window_back, back_s, side_s)
    win_y0 = torch.where(window_back, torch.clamp(head_h + 0.12, min=1.15), 0.95)
    win_y0 = torch.minimum(win_y0, CEILING - 0.3 - wh)
    s["win_wall"] = torch.where(has["window"], torch.where(window_back, BACK, side_wall), -1).float()
    s["win_s"], s["win_y0"], s["win_hw"], s["win_h"] = win_s, win_y0, ww / 2, wh

    pw = 0.7 + 0.5 * nu("painting_width")
    ph = 0.5 + 0.3 * nu("painting_height")
    back_s = torch.clamp(bed_x + (nu("painting_pos") - 0.5) * 0.5, -hw + pw / 2 + 0.2, hw - pw / 2 - 0.2)
    s_lo, s_hi = side_z_lo + pw / 2, depth - pw / 2 - 0.3
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("painting_pos")
    pic_back = ~window_back
    pic_y0 = torch.where(pic_back, torch.clamp(head_h + 0.18, min=1.25), 1.15)
    s["pic_wall"] = torch.where(has["painting"], torch.where(pic_back, BACK, side_wall), -1).float()
    s["pic_s"], s["pic_y0"] = torch.where(pic_back, back_s, side_s), torch.minimum(pic_y0, CEILING - 0.15 - ph)
    s["pic_hw"], s["pic_h"] = pw / 2, ph
    s["pic_split"] = 0.3 + 0.35 * nu("painting_split")
    s["pic_disc"] = 0.25 + 0.5 * nu("painting_disc")

    # ---- lights (their colours are the palette's, in shading)
    indoor = p.indoor_lighting
    sun = day.float()
    lamp = has["lamp"]
    s["lamp_pos"] = torch.stack([torch.where(lamp, lamp_x, 0.0),
                                 torch.where(lamp, shade_y0 + 0.4 * shade_h, CEILING - 0.1),
                                 torch.where(lamp, lamp_z, 0.55 * depth)], dim=-1)
    s["lamp_power"] = indoor * torch.where(lamp, 1.8, 1.4)
    s["lamp_radius2"] = torch.where(lamp, 1.6, 2.6) ** 2
    win_x = torch.where(window_back, win_s, torch.where(side_wall == RIGHT, hw - 0.4, -hw + 0.4))
    s["win_pos"] = torch.stack([win_x, win_y0 + wh / 2, torch.where(window_back, depth - 0.4, win_s)], dim=-1)
    s["win_power"] = 1.5 * sun * has["window"].float()
    s["win_radius2"] = full(6.25)

    # ---- where things can show on screen, so that shading skips the rest
    s["box_bounds"] = torch.stack([
        _bounds(s, _corners(n, dev, (lo[:, k, 0], hi[:, k, 0]), (lo[:, k, 1], hi[:, k, 1]), (lo[:, k, 2], hi[:, k, 2])),
                present[:, k])
        for k in range(NUM_BOXES)], dim=1)                                     # [n, K, 4]

    def on_wall(wall, s0, s1, y0, y1, on):
        x = torch.where(wall == BACK, s0, torch.where(wall == LEFT, -hw, hw))
        x_far = torch.where(wall == BACK, s1, x)
        z = torch.where(wall == BACK, depth, s0)
        z_far = torch.where(wall == BACK, depth, s1)
        return _bounds(s, _corners(n, dev, (x, x_far), (y0, y1), (z, z_far)), on)

    margin = s["win_hw"] + 0.34
    s["window_bounds"] = on_wall(s["win_wall"], win_s - margin, win_s + margin,
                                 torch.clamp(win_y0 - 0.45, min=0.12), win_y0 + wh + 0.16, has["window"])
    s["painting_bounds"] = on_wall(s["pic_wall"], s["pic_s"] - pw / 2, s["pic_s"] + pw / 2,
                                   s["pic_y0"], s["pic_y0"] + ph, has["painting"])
    # The floor's farthest points are its back corners.
    floor = _bounds(s, _corners(n, dev, (-hw, hw), (0.0, 0.0), (depth, depth)), torch.ones_like(day))
    s["floor_bounds"] = torch.cat([floor.new_tensor([-1.5, 1.5, -1.5]).expand(n, 3), floor[:, 3:]], dim=1)
    shadow = [_bounds(s, _corners(n, dev, (lo[:, k, 0] - 0.3, hi[:, k, 0] + 0.3), (0.0, 0.0),
                                  (lo[:, k, 2] - 0.3, hi[:, k, 2])), present[:, k]) for k in (BED, STAND)]
    s["shadow_bounds"] = union(*shadow)
    return s

