"""Procedural bedrooms: a seeded, batched toy world with known semantics.

Every image is a bedroom seen in perspective from inside the room: a back
wall, two side walls, floor and ceiling, cast per pixel as rays against
planes and axis-aligned boxes (pure torch, vectorised over the batch, no
assets). Each image comes with scalar scores for the semantics below, at the
four levels of HiGAN (Yang, Shen & Zhou, "Semantic Hierarchy Emerges in Deep
Generative Representations for Scene Synthesis"). All scores are sampled
independently of each other; everything else (object positions and sizes,
wood tone, carpet and rug colours, ...) is nuisance drawn at random.

Scores (float32, one per image)
-------------------------------
Layout (continuous)
    ``view_yaw`` in [-1, 1]: camera turn, -1 = 22 degrees to the left, +1 =
    22 degrees to the right (the camera also slides to the other side of the
    room). Positive values move the back wall to the left of the image.
    ``camera_height`` in [0, 1]: eye height 1.0 m (0) to 1.8 m (1). A higher
    camera moves the back wall's floor line (and the whole back wall) down the
    image and shows more floor.
    ``room_depth`` in [0, 1]: distance to the back wall, 4 m (0) to 7 m (1).
    A deeper room makes the back wall smaller.
Objects (binary, 0 or 1, each present with probability 0.5)
    ``bed``: a double bed against the back wall (frame, duvet, pillows,
    headboard). ``window``: a framed window with curtains on the back wall or
    on the side wall the camera faces. ``lamp``: a table lamp on the
    nightstand when there is one, else a pendant lamp hanging from the
    ceiling. ``painting``: a framed picture on the back wall (over the bed)
    or, when the window takes the back wall, on the side wall.
    ``rug``: a rug on the floor at the foot of the bed. ``nightstand``: a
    small cabinet beside the bed, against the back wall.
Attributes
    ``indoor_lighting`` in [0, 1] (continuous): strength of the warm
    artificial light. It comes from the lamp when there is one (its shade
    glows) and otherwise from a ceiling light outside the picture.
    ``natural_lighting`` (binary): 1 = daytime (bright sky in the window,
    cool daylight filling the room), 0 = night (dark window, dim room).
    ``wood_floor`` (binary): 1 = wooden planks, 0 = carpet.
    ``clutter`` (binary): 1 = several small objects (boxes, clothes, toys)
    on the floor and, when there is a bed, clothes on the bed.
Colour scheme (continuous, in [0, 1])
    ``wall_hue``: paint hue from warm (0: orange, 25 degrees) through
    yellow and green to cool (1: blue, 215 degrees); the wall's blue minus
    red grows with it. ``wall_brightness``: paint value, 0.45 (0) to 0.95
    (1). ``wall_saturation``: paint saturation, 0.04 (0) to 0.6 (1).
    ``bedding_hue``: duvet hue from red (0) through yellow and green to
    blue (1, 240 degrees).

Images are float32 ``[n, 3, H, W]`` in [-1, 1] (the GAN convention).

Exports: :data:`SEMANTICS`, :class:`SemanticSpec`, :class:`RoomParams`,
:func:`sample_params`, :func:`scores_of`, :func:`render_rooms`,
:func:`sample_rooms`, :func:`to_uint8`, :func:`semantic`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

__all__ = [
    "SEMANTICS",
    "SemanticSpec",
    "RoomParams",
    "sample_params",
    "scores_of",
    "render_rooms",
    "sample_rooms",
    "to_uint8",
    "semantic",
]

LEVELS = ("layout", "object", "attribute", "colour")
KINDS = ("continuous", "binary")


@dataclass(frozen=True)
class SemanticSpec:
    """One named semantic and the meaning of its score.

    Parameters
    ----------
    name : str
        Key of the score, e.g. ``"bed"``.
    level : str
        One of ``"layout"``, ``"object"``, ``"attribute"``, ``"colour"``.
    kind : str
        ``"continuous"`` (a regression target) or ``"binary"`` (0 or 1).
    doc : str
        What the score means and its range.
    """

    name: str
    level: str
    kind: str
    doc: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "SemanticSpec":
        return cls(name=str(d["name"]), level=str(d["level"]), kind=str(d["kind"]), doc=str(d["doc"]))


SEMANTICS: tuple[SemanticSpec, ...] = (
    SemanticSpec("view_yaw", "layout", "continuous",
                 "camera turn in [-1, 1]; +1 turns right, so the back wall moves left"),
    SemanticSpec("camera_height", "layout", "continuous",
                 "eye height in [0, 1] (1.0 m to 1.8 m); higher moves the back wall's floor line down"),
    SemanticSpec("room_depth", "layout", "continuous",
                 "distance to the back wall in [0, 1] (4 m to 7 m); deeper makes the back wall smaller"),
    SemanticSpec("bed", "object", "binary", "a double bed against the back wall"),
    SemanticSpec("window", "object", "binary", "a window with curtains on the back or a side wall"),
    SemanticSpec("lamp", "object", "binary", "a table lamp on the nightstand, else a pendant lamp"),
    SemanticSpec("painting", "object", "binary", "a framed picture on the back or a side wall"),
    SemanticSpec("rug", "object", "binary", "a rug on the floor at the foot of the bed"),
    SemanticSpec("nightstand", "object", "binary", "a small cabinet beside the bed"),
    SemanticSpec("indoor_lighting", "attribute", "continuous",
                 "warm artificial light in [0, 1]; the lamp's shade glows when there is a lamp"),
    SemanticSpec("natural_lighting", "attribute", "binary",
                 "1 = daytime (bright window, cool daylight), 0 = night"),
    SemanticSpec("wood_floor", "attribute", "binary", "1 = wooden planks, 0 = carpet"),
    SemanticSpec("clutter", "attribute", "binary",
                 "1 = small objects lying on the floor and on the bed"),
    SemanticSpec("wall_hue", "colour", "continuous",
                 "wall paint hue in [0, 1], warm orange (0) to cool blue (1)"),
    SemanticSpec("wall_brightness", "colour", "continuous", "wall paint value in [0, 1]"),
    SemanticSpec("wall_saturation", "colour", "continuous", "wall paint saturation in [0, 1]"),
    SemanticSpec("bedding_hue", "colour", "continuous",
                 "duvet hue in [0, 1], red (0) through yellow and green to blue (1)"),
)

_SEMANTIC_NAMES = tuple(s.name for s in SEMANTICS)
_BY_NAME = {s.name: s for s in SEMANTICS}

# Ranges of the continuous scores as sampled; binary scores are 0 or 1.
_RANGES = {"view_yaw": (-1.0, 1.0)}


def semantic(name: str) -> SemanticSpec:
    """The :class:`SemanticSpec` called ``name`` (KeyError naming the choices)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown semantic {name!r}; known: {', '.join(_SEMANTIC_NAMES)}") from None


# Nuisance factors: uniform in [0, 1), one column each, read by name below.
_NUISANCE_NAMES = (
    "room_width", "wood_tone", "wood_hue", "plank_width", "plank_length",
    "carpet_hue", "carpet_sat", "carpet_val",
    "bed_x", "bed_width", "bed_length", "frame_tone", "headboard_height", "headboard_fabric",
    "pillow_tone", "sheet_fold",
    "stand_side", "stand_width", "stand_height",
    "window_side", "window_pos", "window_width", "window_height", "curtain_hue", "curtain_val",
    "painting_pos", "painting_width", "painting_height", "painting_split",
    "painting_hue_a", "painting_hue_b", "painting_hue_c", "painting_disc", "painting_frame",
    "rug_x", "rug_width", "rug_length", "rug_hue", "rug_hue2", "rug_val",
    "pendant_x", "pendant_z", "pendant_drop", "shade_tone",
    *(f"clutter_{f}{i}" for i in range(4) for f in ("x", "z", "sx", "sz", "h", "hue")),
    *(f"cloth_{f}{i}" for i in range(2) for f in ("x", "z", "s", "hue")),
    "texture_seed",
)
_NU = {name: i for i, name in enumerate(_NUISANCE_NAMES)}
NUM_NUISANCE = len(_NUISANCE_NAMES)


@dataclass(frozen=True)
class RoomParams:
    """Everything that decides a batch of rooms: the scores plus nuisance.

    Each semantic field is a float32 tensor ``[n]`` holding that score (see
    the module docstring for meanings and ranges); ``nuisance`` is
    ``[n, NUM_NUISANCE]`` uniform in [0, 1) and fixes positions, sizes and
    colours that no score names. Change one score with :meth:`with_values`
    and render again to see that semantic alone change.
    """

    view_yaw: torch.Tensor
    camera_height: torch.Tensor
    room_depth: torch.Tensor
    bed: torch.Tensor
    window: torch.Tensor
    lamp: torch.Tensor
    painting: torch.Tensor
    rug: torch.Tensor
    nightstand: torch.Tensor
    indoor_lighting: torch.Tensor
    natural_lighting: torch.Tensor
    wood_floor: torch.Tensor
    clutter: torch.Tensor
    wall_hue: torch.Tensor
    wall_brightness: torch.Tensor
    wall_saturation: torch.Tensor
    bedding_hue: torch.Tensor
    nuisance: torch.Tensor

    def __post_init__(self) -> None:
        n = self.nuisance.shape[0]
        if self.nuisance.ndim != 2 or self.nuisance.shape[1] != NUM_NUISANCE:
            raise ValueError(f"nuisance must be [n, {NUM_NUISANCE}], got {tuple(self.nuisance.shape)}")
        for name in _SEMANTIC_NAMES:
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.shape != (n,):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"{name} must be a tensor of shape [{n}], got {shape}")

    def __len__(self) -> int:
        return self.nuisance.shape[0]

    @property
    def device(self) -> torch.device:
        return self.nuisance.device

    def with_values(self, **values) -> "RoomParams":
        """A copy with some scores replaced (a float is broadcast to the batch)."""
        changes = {}
        for name, value in values.items():
            semantic(name)
            changes[name] = torch.as_tensor(value, dtype=torch.float32, device=self.device).expand(len(self)).clone()
        return dataclasses.replace(self, **changes)

    def select(self, index) -> "RoomParams":
        """Rows ``index`` (a slice or index tensor) of every field."""
        return RoomParams(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def to(self, device) -> "RoomParams":
        return RoomParams(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})

    def to_dict(self) -> dict:
        """Plain nested lists, for JSON."""
        return {f.name: getattr(self, f.name).tolist() for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RoomParams":
        return cls(**{f.name: torch.tensor(d[f.name], dtype=torch.float32) for f in dataclasses.fields(cls)})


def sample_params(n: int, generator: torch.Generator) -> RoomParams:
    """Draw ``n`` rooms: binary scores are Bernoulli(0.5), continuous ones uniform.

    Parameters
    ----------
    n : int
        Batch size.
    generator : torch.Generator
        Source of randomness; the tensors live on its device.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    device = generator.device
    u = torch.rand(n, len(SEMANTICS), generator=generator, device=device)
    nuisance = torch.rand(n, NUM_NUISANCE, generator=generator, device=device)
    fields = {}
    for i, spec in enumerate(SEMANTICS):
        if spec.kind == "binary":
            fields[spec.name] = (u[:, i] < 0.5).float()
        else:
            lo, hi = _RANGES.get(spec.name, (0.0, 1.0))
            fields[spec.name] = lo + (hi - lo) * u[:, i]
    return RoomParams(**fields, nuisance=nuisance)


def scores_of(params: RoomParams) -> dict[str, torch.Tensor]:
    """Scores of every semantic: name -> float32 ``[n]``."""
    return {name: getattr(params, name).float().clone() for name in _SEMANTIC_NAMES}


# --------------------------------------------------------------------------- rendering

_CEILING = 2.6          # ceiling height, metres
_PITCH = 0.12           # camera looks down by this much, radians
_MAX_YAW = 0.38         # radians at |view_yaw| = 1
_FOCAL = 1.0 / math.tan(math.radians(40.0))  # 80 degree horizontal field of view
_CAM_Z = 0.2

# Box slots; the order fixes which texture a hit box gets.
_BED, _HEADBOARD, _PILLOWS, _STAND, _SHADE, _LAMP_BASE = 0, 1, 2, 3, 4, 5
_CLUTTER = (6, 7, 8, 9)
_NUM_BOXES = 10
_FLOOR_BOXES = (_BED, _STAND, *_CLUTTER)  # boxes that cast contact shadows on the floor

# Room surfaces.
_BACK, _LEFT, _RIGHT, _FLOOR, _CEIL = 0, 1, 2, 3, 4


def _hsv(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """HSV (hue in [0, 1) turns) to RGB, stacked on a new last axis."""
    h6 = h * 6.0
    out = []
    for k0 in (5.0, 3.0, 1.0):
        k = torch.remainder(k0 + h6, 6.0)
        out.append(v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(out, dim=-1)


def _hash01(*ints: torch.Tensor) -> torch.Tensor:
    """A deterministic hash of integer tensors to floats in [0, 1)."""
    h = torch.zeros((), dtype=torch.int64, device=ints[0].device)
    for i, k in enumerate(ints):
        h = h ^ (k.to(torch.int64) * (73856093, 19349663, 83492791, 2654435761)[i % 4])
        h = (h ^ (h >> 13)) * 1274126177
        h = h & 0x7FFFFFFF
    h = h ^ (h >> 16)
    return (h & 0xFFFF).float() / 65536.0


def _lerp(a, b, t):
    return a + (b - a) * t


def _screen(resolution: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1]: u to the right, v up; flattened."""
    c = (torch.arange(resolution, device=device, dtype=torch.float32) + 0.5) / resolution * 2.0 - 1.0
    v, u = torch.meshgrid(-c, c, indexing="ij")
    return u.reshape(-1), v.reshape(-1)


def render_rooms(params: RoomParams, resolution: int, *, chunk: int = 32) -> torch.Tensor:
    """Render rooms from explicit parameters.

    Parameters
    ----------
    params : RoomParams
        A batch of ``n`` rooms.
    resolution : int
        Output height and width in pixels (8 or more).
    chunk : int
        Images rendered together; small chunks keep the per-pixel
        temporaries in cache, which is what makes this fast on a CPU.

    Returns
    -------
    torch.Tensor
        float32 ``[n, 3, resolution, resolution]`` in [-1, 1], on the
        device of ``params``.
    """
    if not isinstance(params, RoomParams):
        raise TypeError(f"params must be RoomParams, got {type(params).__name__}")
    if int(resolution) != resolution or resolution < 8:
        raise ValueError(f"resolution must be an integer >= 8, got {resolution}")
    resolution = int(resolution)
    n = len(params)
    out = torch.empty(n, 3, resolution, resolution, device=params.device)
    with torch.inference_mode():
        u, v = _screen(resolution, params.device)
        for start in range(0, n, chunk):
            part = params.select(slice(start, start + chunk))
            rgb = _render_chunk(part, u, v)  # [c, P, 3] in [0, 1]
            out[start:start + chunk] = rgb.mul(2.0).sub(1.0).transpose(1, 2).reshape(
                len(part), 3, resolution, resolution)
    return out


def sample_rooms(n: int, seed: int, *, resolution: int = 64, device="cpu"
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sample and render ``n`` rooms, reproducibly from ``seed``.

    Returns
    -------
    images : torch.Tensor
        float32 ``[n, 3, resolution, resolution]`` in [-1, 1].
    scores : dict[str, torch.Tensor]
        name -> float32 ``[n]``, one entry per item of :data:`SEMANTICS`.
    """
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    params = sample_params(n, generator).to(device)
    return render_rooms(params, resolution), scores_of(params)


def to_uint8(images) -> np.ndarray:
    """``[n, 3, H, W]`` images in [-1, 1] to ``[n, H, W, 3]`` uint8."""
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float32).numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected [n, 3, H, W] images, got shape {images.shape}")
    return np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1).copy()


def _render_chunk(p: RoomParams, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Ray-cast one chunk of rooms; returns linear-ish RGB ``[c, P, 3]`` in [0, 1]."""
    dev = u.device
    c = len(p)
    P = u.shape[0]

    def nu(name: str) -> torch.Tensor:
        return p.nuisance[:, _NU[name]]

    def col(x: torch.Tensor) -> torch.Tensor:  # per-image scalar -> [c, 1]
        return x[:, None]

    # ---- camera and room
    hw = 1.8 + 0.4 * nu("room_width")               # half width of the room
    depth = 4.0 + 3.0 * p.room_depth                 # z of the back wall
    cam_x = -0.6 * p.view_yaw
    cam_y = 1.0 + 0.8 * p.camera_height
    cam_z = torch.full_like(cam_x, _CAM_Z)
    cam = torch.stack([cam_x, cam_y, cam_z], dim=-1)  # [c, 3]
    yaw = _MAX_YAW * p.view_yaw

    y1 = v * math.cos(_PITCH) - _FOCAL * math.sin(_PITCH)
    z1 = v * math.sin(_PITCH) + _FOCAL * math.cos(_PITCH)
    ca, sa = col(torch.cos(yaw)), col(torch.sin(yaw))
    dx = u * ca + z1 * sa                            # [c, P]
    dz = z1 * ca - u * sa
    dy = y1.expand(c, P)
    ix, iy, iz = 1.0 / dx, 1.0 / y1, 1.0 / dz         # iy is shared by the batch: [P]

    # ---- room: the exit point of a ray from the (convex) box of the room
    tx = (torch.where(dx >= 0, col(hw), -col(hw)) - col(cam_x)) * ix
    ty = (torch.where(y1 >= 0, _CEILING, 0.0) - col(cam_y)) * iy
    tz = col(depth - _CAM_Z) * iz
    t = tz
    surf = torch.zeros(c, P, dtype=torch.int64, device=dev)
    m = tx < t
    t = torch.where(m, tx, t)
    surf = torch.where(m, torch.where(dx >= 0, _RIGHT, _LEFT), surf)
    m = ty < t
    t = torch.where(m, ty, t)
    surf = torch.where(m, torch.where(y1 >= 0, _CEIL, _FLOOR).expand(c, P), surf)
    t_room = t

    # ---- boxes: [c, K, 3] corners
    lo = torch.zeros(c, _NUM_BOXES, 3, device=dev)
    hi = torch.zeros(c, _NUM_BOXES, 3, device=dev)
    present = torch.zeros(c, _NUM_BOXES, dtype=torch.bool, device=dev)

    def put(k, x0, x1, y0, y1_, z0, z1_, on):
        lo[:, k, 0], hi[:, k, 0] = x0, x1
        lo[:, k, 1], hi[:, k, 1] = y0, y1_
        lo[:, k, 2], hi[:, k, 2] = z0, z1_
        present[:, k] = on

    has = {name: getattr(p, name) > 0.5 for name in ("bed", "window", "lamp", "painting", "rug", "nightstand", "clutter")}
    day = p.natural_lighting > 0.5
    wood = p.wood_floor > 0.5

    # The bed's footprint exists even without a bed, so that toggling the bed
    # leaves the nightstand, rug and painting where they were.
    bed_w = 1.4 + 0.5 * nu("bed_width")
    bed_l = 1.9 + 0.3 * nu("bed_length")
    bed_x = (2 * nu("bed_x") - 1) * torch.clamp(hw - bed_w / 2 - 0.65, min=0.0)
    bed_top = torch.full_like(bed_w, 0.52)
    bed_z0 = depth - bed_l
    head_h = 0.9 + 0.35 * nu("headboard_height")
    put(_BED, bed_x - bed_w / 2, bed_x + bed_w / 2, 0.0, bed_top, bed_z0, depth - 0.07, has["bed"])
    put(_HEADBOARD, bed_x - bed_w / 2 - 0.05, bed_x + bed_w / 2 + 0.05, 0.0, head_h,
        depth - 0.08, depth - 0.005, has["bed"])
    put(_PILLOWS, bed_x - bed_w / 2 + 0.1, bed_x + bed_w / 2 - 0.1, bed_top, bed_top + 0.15,
        depth - 0.55, depth - 0.1, has["bed"])

    st_w = 0.45 + 0.15 * nu("stand_width")
    st_h = 0.5 + 0.12 * nu("stand_height")
    side = torch.where(nu("stand_side") < 0.5, -1.0, 1.0)
    st_x = bed_x + side * (bed_w / 2 + 0.12 + st_w / 2)
    st_x = torch.where(st_x.abs() + st_w / 2 > hw - 0.03, bed_x - side * (bed_w / 2 + 0.12 + st_w / 2), st_x)
    put(_STAND, st_x - st_w / 2, st_x + st_w / 2, 0.0, st_h, depth - 0.45, depth - 0.02, has["nightstand"])

    # Lamp: on the nightstand if there is one, else hanging from the ceiling.
    table = has["nightstand"]
    pend_x = (2 * nu("pendant_x") - 1) * (hw - 0.8)
    pend_z = 2.2 + (depth - 3.4) * nu("pendant_z")
    pend_y0 = _CEILING - 0.75 - 0.3 * nu("pendant_drop")
    lamp_x = torch.where(table, st_x, pend_x)
    lamp_z = torch.where(table, depth - 0.24, pend_z)
    shade_y0 = torch.where(table, st_h + 0.22, pend_y0)
    shade_h = torch.where(table, torch.full_like(st_h, 0.26), torch.full_like(st_h, 0.22))
    shade_r = torch.where(table, torch.full_like(st_h, 0.15), torch.full_like(st_h, 0.2))
    put(_SHADE, lamp_x - shade_r, lamp_x + shade_r, shade_y0, shade_y0 + shade_h,
        lamp_z - shade_r, lamp_z + shade_r, has["lamp"])
    base_y0 = torch.where(table, st_h, shade_y0 + shade_h)
    base_y1 = torch.where(table, st_h + 0.23, torch.full_like(st_h, _CEILING))
    base_r = torch.where(table, torch.full_like(st_h, 0.045), torch.full_like(st_h, 0.012))
    put(_LAMP_BASE, lamp_x - base_r, lamp_x + base_r, base_y0, base_y1,
        lamp_z - base_r, lamp_z + base_r, has["lamp"])

    clutter_zmax = torch.clamp(bed_z0 - 0.3, min=1.7)
    for i, k in enumerate(_CLUTTER):
        sx = 0.14 + 0.26 * nu(f"clutter_sx{i}")
        sz = 0.14 + 0.26 * nu(f"clutter_sz{i}")
        h = 0.04 + 0.26 * nu(f"clutter_h{i}") ** 2
        x = (2 * nu(f"clutter_x{i}") - 1) * (hw - 0.35)
        z = 1.35 + (clutter_zmax - 1.35) * nu(f"clutter_z{i}")
        put(k, x - sx / 2, x + sx / 2, 0.0, h, z - sz / 2, z + sz / 2, has["clutter"])

    # Absent boxes move behind the camera, where no ray (all have dz > 0) meets them.
    lo[..., 2] = torch.where(present, lo[..., 2], -10.0)
    hi[..., 2] = torch.where(present, hi[..., 2], -9.0)

    # ---- slab test of every ray against every box: [c, K, P]
    o_lo = lo - cam[:, None, :]
    o_hi = hi - cam[:, None, :]
    inv = (ix[:, None, :], iy[None, None, :], iz[:, None, :])
    t_near = t_far = None
    for a in range(3):
        ta = o_lo[:, :, a, None] * inv[a]
        tb = o_hi[:, :, a, None] * inv[a]
        t0 = torch.minimum(ta, tb)
        t1 = torch.maximum(ta, tb)
        t_near = t0 if t_near is None else torch.maximum(t_near, t0)
        t_far = t1 if t_far is None else torch.minimum(t_far, t1)
    miss = (t_near > t_far) | (t_near <= 0)
    t_box_all = t_near.masked_fill_(miss, float("inf"))
    t_box, k_box = t_box_all.min(dim=1)                 # [c, P]
    on_box = t_box < t_room
    t_hit = torch.where(on_box, t_box, t_room)
    px = col(cam_x) + t_hit * dx
    py = col(cam_y) + t_hit * dy
    pz = col(cam_z) + t_hit * dz

    # Face of the box that was hit: the axis whose near/far plane is closest.
    idx = k_box[..., None].expand(c, P, 3)
    blo = torch.gather(lo, 1, idx)
    bhi = torch.gather(hi, 1, idx)
    pt = torch.stack([px, py, pz], dim=-1)
    d_lo = (pt - blo).abs_()
    d_hi = (pt - bhi).abs_()
    face_axis = torch.minimum(d_lo, d_hi).argmin(dim=-1)
    face_sign = torch.where(torch.gather(d_lo < d_hi, 2, face_axis[..., None])[..., 0], -1.0, 1.0)

    # ---- normals
    room_normals = torch.tensor([[0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]],
                                dtype=torch.float32, device=dev)
    normal = room_normals[surf]
    box_normal = torch.nn.functional.one_hot(face_axis, 3).float() * face_sign[..., None]
    normal = torch.where(on_box[..., None], box_normal, normal)

    # ---- room albedo
    wall_rgb = _hsv(_lerp(25.0, 215.0, p.wall_hue) / 360.0,
                    0.04 + 0.56 * p.wall_saturation,
                    0.45 + 0.5 * p.wall_brightness)                 # [c, 3]
    is_wall = surf <= _RIGHT
    albedo = wall_rgb[:, None, :].expand(c, P, 3).clone()
    trim = is_wall & ((py < 0.1) | (py > _CEILING - 0.06))
    albedo = torch.where(trim[..., None], albedo.new_tensor([0.9, 0.88, 0.84]), albedo)
    albedo = torch.where((surf == _CEIL)[..., None], albedo.new_tensor([0.92, 0.91, 0.89]), albedo)
    emission = torch.zeros(c, P, 3, device=dev)

    # Floor: wooden planks running towards the back wall, or carpet.
    seed = (nu("texture_seed") * 100000).long()[:, None]
    plank_w = 0.16 + 0.1 * nu("plank_width")
    plank_l = 1.2 + 1.0 * nu("plank_length")
    fx = (px + col(hw)) / col(plank_w)
    plank = torch.floor(fx)
    shift = _hash01(plank.long(), seed)
    fz = pz / col(plank_l) + shift
    row = torch.floor(fz)
    tone = _hash01(plank.long(), row.long(), seed)
    seam = ((fx - plank) < 0.07) | ((fz - row) < 0.025)
    grain = 1.0 + 0.07 * torch.sin(px * 55.0 + 3.0 * torch.sin(pz * 3.0 + tone * 6.0) + tone * 20.0)
    wood_rgb = _hsv(0.06 + 0.03 * nu("wood_hue"), torch.full_like(hw, 0.62), 0.32 + 0.45 * nu("wood_tone"))
    wood_shade = (0.78 + 0.35 * tone) * grain * torch.where(seam, 0.55, 1.0)
    wood_alb = wood_rgb[:, None, :] * wood_shade[..., None]
    carpet_rgb = _hsv(nu("carpet_hue"), 0.05 + 0.2 * nu("carpet_sat"), 0.4 + 0.35 * nu("carpet_val"))
    speck = _hash01(torch.floor(px * 30).long(), torch.floor(pz * 30).long(), seed)
    carpet_alb = carpet_rgb[:, None, :] * (0.93 + 0.12 * speck)[..., None]
    floor_alb = torch.where(wood[:, None, None], wood_alb, carpet_alb)

    # Rug at the foot of the bed.
    rug_w = torch.minimum(1.4 + 0.9 * nu("rug_width"), 2 * hw - 0.4)
    rug_x = torch.clamp(bed_x + (nu("rug_x") - 0.5) * 0.6, -hw + rug_w / 2 + 0.1, hw - rug_w / 2 - 0.1)
    rug_z1 = bed_z0 + 0.8
    rug_z0 = bed_z0 - 0.8 - 0.6 * nu("rug_length")
    rx = (px - col(rug_x)).abs() - col(rug_w / 2)
    rz = torch.maximum(col(rug_z0) - pz, pz - col(rug_z1))
    rug_d = torch.maximum(rx, rz)                       # < 0 inside the rug
    in_rug = (rug_d < 0) & col(has["rug"])
    rug_main = _hsv(nu("rug_hue"), torch.full_like(hw, 0.55), 0.4 + 0.35 * nu("rug_val"))
    rug_edge = _hsv(nu("rug_hue2"), torch.full_like(hw, 0.45), 0.3 + 0.5 * nu("rug_val"))
    stripe = (torch.remainder(pz * 3.0, 1.0) < 0.22) & (rug_d < -0.28)
    rug_alb = torch.where(((rug_d > -0.14) | stripe)[..., None], rug_edge[:, None, :], rug_main[:, None, :])
    floor_alb = torch.where(in_rug[..., None], rug_alb, floor_alb)
    albedo = torch.where((surf == _FLOOR)[..., None], floor_alb, albedo)

    # Window and painting: rectangles on a wall. The back wall holds one of
    # them; the other goes on the side wall the camera turns towards.
    side_wall = torch.where(p.view_yaw >= 0, _RIGHT, _LEFT)
    window_back = nu("window_side") < 0.5
    win_wall = torch.where(window_back, _BACK, side_wall)
    pic_wall = torch.where(window_back, side_wall, _BACK)
    side_z_lo = torch.clamp(0.55 * depth, min=2.7)

    def wall_coord(wall):  # horizontal coordinate along the given wall
        return torch.where(col(wall == _BACK), px, pz)

    ww = 0.8 + 0.5 * nu("window_width")
    wh = 0.75 + 0.35 * nu("window_height")
    back_s = (2 * nu("window_pos") - 1) * (hw - ww / 2 - 0.45)
    s_lo, s_hi = side_z_lo + ww / 2 + 0.3, depth - ww / 2 - 0.4
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("window_pos")
    win_s = torch.where(window_back, back_s, side_s)
    win_y0 = torch.where(window_back, torch.clamp(head_h + 0.12, min=1.15), torch.full_like(wh, 0.95))
    win_y0 = torch.minimum(win_y0, _CEILING - 0.2 - wh)
    ws = wall_coord(win_wall) - col(win_s)
    on_win_wall = (surf == col(win_wall)) & col(has["window"])
    wy = py - col(win_y0)
    in_win = on_win_wall & (ws.abs() < col(ww / 2)) & (wy > 0) & (wy < col(wh))
    frame_w = 0.055
    glass = in_win & (ws.abs() < col(ww / 2 - frame_w)) & (wy > frame_w) & (wy < col(wh - frame_w)) \
        & (ws.abs() > 0.022) & ((wy - col(0.62 * wh)).abs() > 0.022)
    albedo = torch.where(in_win[..., None], albedo.new_tensor([0.9, 0.9, 0.88]), albedo)
    fy = torch.clamp(wy / col(wh), 0.0, 1.0)[..., None]
    sky = _lerp(emission.new_tensor([1.25, 1.3, 1.3]), emission.new_tensor([0.55, 0.78, 1.2]), fy)
    trees = (fy[..., 0] < 0.16 + 0.07 * torch.sin(ws * 23.0) * torch.sin(ws * 7.0 + 1.0))
    sky = torch.where(trees[..., None], emission.new_tensor([0.25, 0.42, 0.2]), sky)
    night = _lerp(emission.new_tensor([0.05, 0.06, 0.12]), emission.new_tensor([0.02, 0.025, 0.07]), fy)
    glass_rgb = torch.where(day[:, None, None], sky, night)
    albedo = torch.where(glass[..., None], 0.0, albedo)
    emission = torch.where(glass[..., None], glass_rgb, emission)
    # Curtains hang either side of the window, from a rod above it.
    cw = 0.28
    rod_y = col(win_y0 + wh + 0.14)
    curtain = on_win_wall & (ws.abs() > col(ww / 2 - 0.06)) & (ws.abs() < col(ww / 2 + cw)) \
        & (py < rod_y) & (py > col(torch.clamp(win_y0 - 0.45, min=0.12)))
    folds = 1.0 + 0.16 * torch.sin(ws * 70.0)
    curtain_rgb = _hsv(nu("curtain_hue"), torch.full_like(hw, 0.45), 0.45 + 0.45 * nu("curtain_val"))
    albedo = torch.where(curtain[..., None], curtain_rgb[:, None, :] * folds[..., None], albedo)
    rod = on_win_wall & ((py - rod_y).abs() < 0.02) & (ws.abs() < col(ww / 2 + cw + 0.06))
    albedo = torch.where(rod[..., None], albedo.new_tensor([0.12, 0.1, 0.09]), albedo)

    pw = 0.5 + 0.45 * nu("painting_width")
    ph = 0.4 + 0.3 * nu("painting_height")
    pic_back_s = torch.clamp(bed_x + (nu("painting_pos") - 0.5) * 0.5, -hw + pw / 2 + 0.2, hw - pw / 2 - 0.2)
    ps_lo, ps_hi = side_z_lo + pw / 2, depth - pw / 2 - 0.3
    pic_side_s = ps_lo + torch.clamp(ps_hi - ps_lo, min=0.0) * nu("painting_pos")
    pic_s = torch.where(pic_wall == _BACK, pic_back_s, pic_side_s)
    pic_y0 = torch.where(pic_wall == _BACK, torch.clamp(head_h + 0.18, min=1.25), torch.full_like(ph, 1.15))
    pic_y0 = torch.minimum(pic_y0, _CEILING - 0.15 - ph)
    qs = wall_coord(pic_wall) - col(pic_s)
    qy = py - col(pic_y0)
    in_pic = (surf == col(pic_wall)) & col(has["painting"]) & (qs.abs() < col(pw / 2)) & (qy > 0) & (qy < col(ph))
    fr = 0.045
    canvas = in_pic & (qs.abs() < col(pw / 2 - fr)) & (qy > fr) & (qy < col(ph - fr))
    frame_rgb = _lerp(albedo.new_tensor([0.1, 0.08, 0.06]), albedo.new_tensor([0.75, 0.6, 0.3]), nu("painting_frame")[:, None])
    ca_rgb = _hsv(nu("painting_hue_a"), torch.full_like(hw, 0.5), torch.full_like(hw, 0.85))
    cb_rgb = _hsv(nu("painting_hue_b"), torch.full_like(hw, 0.7), torch.full_like(hw, 0.55))
    cc_rgb = _hsv(nu("painting_hue_c"), torch.full_like(hw, 0.85), torch.full_like(hw, 0.9))
    qv = qy / col(ph)
    qu = qs / col(pw) + 0.5
    lower = qv < col(0.3 + 0.35 * nu("painting_split")) + 0.06 * torch.sin(qu * 9.0)
    disc = (qu - col(0.25 + 0.5 * nu("painting_disc"))) ** 2 + (qv - 0.72) ** 2 < 0.018
    pic_rgb = torch.where(lower[..., None], cb_rgb[:, None, :], ca_rgb[:, None, :])
    pic_rgb = torch.where(disc[..., None], cc_rgb[:, None, :], pic_rgb)
    albedo = torch.where(in_pic[..., None], frame_rgb[:, None, :], albedo)
    albedo = torch.where(canvas[..., None], pic_rgb, albedo)

    # ---- box albedo
    frame_tone = nu("frame_tone")
    frame_rgb = _hsv(torch.full_like(hw, 0.07), 0.35 + 0.25 * frame_tone, 0.25 + 0.55 * frame_tone)
    fabric_rgb = _hsv(nu("headboard_fabric"), torch.full_like(hw, 0.15), torch.full_like(hw, 0.55))
    head_rgb = torch.where(col(nu("headboard_fabric") < 0.5), frame_rgb, fabric_rgb)
    bedding_rgb = _hsv(p.bedding_hue * (240.0 / 360.0), torch.full_like(hw, 0.55), torch.full_like(hw, 0.82))
    pillow_rgb = _lerp(albedo.new_tensor([0.95, 0.95, 0.93]), albedo.new_tensor([0.9, 0.85, 0.72]), nu("pillow_tone")[:, None])
    stand_rgb = _hsv(torch.full_like(hw, 0.07), torch.full_like(hw, 0.45), 0.3 + 0.4 * nu("stand_width"))
    shade_rgb = _lerp(albedo.new_tensor([0.95, 0.92, 0.85]), albedo.new_tensor([0.85, 0.75, 0.55]), nu("shade_tone")[:, None])
    box_rgb = torch.zeros(c, _NUM_BOXES, 3, device=dev)
    box_rgb[:, _BED] = bedding_rgb
    box_rgb[:, _HEADBOARD] = head_rgb
    box_rgb[:, _PILLOWS] = pillow_rgb
    box_rgb[:, _STAND] = stand_rgb
    box_rgb[:, _SHADE] = shade_rgb
    box_rgb[:, _LAMP_BASE] = albedo.new_tensor([0.15, 0.14, 0.13])
    for i, k in enumerate(_CLUTTER):
        box_rgb[:, k] = _hsv(nu(f"clutter_hue{i}"), torch.full_like(hw, 0.7), 0.55 + 0.35 * nu(f"clutter_h{i}"))
    b_alb = torch.gather(box_rgb, 1, idx)

    is_bed = on_box & (k_box == _BED)
    top = face_axis == 1
    frame_part = is_bed & ~top & (py < 0.27)
    b_alb = torch.where(frame_part[..., None], frame_rgb[:, None, :], b_alb)
    fold_z = col(depth - 0.75 - 0.25 * nu("sheet_fold"))
    sheet = is_bed & top & (pz > fold_z)
    fold = is_bed & top & (pz > fold_z - 0.16) & (pz <= fold_z)
    b_alb = torch.where(sheet[..., None], pillow_rgb[:, None, :], b_alb)
    b_alb = torch.where(fold[..., None], bedding_rgb[:, None, :] * 0.8 + 0.2, b_alb)
    # Clothes lying on the bed when the room is cluttered.
    for i in range(2):
        cs = 0.3 + 0.25 * nu(f"cloth_s{i}")
        cxp = bed_x + (nu(f"cloth_x{i}") - 0.5) * (bed_w - cs - 0.1)
        czp = bed_z0 + 0.2 + cs / 2 + (depth - 1.1 - bed_z0 - cs) * nu(f"cloth_z{i}")
        cloth = is_bed & top & col(has["clutter"]) & ((px - col(cxp)).abs() < col(cs / 2)) \
            & ((pz - col(czp)).abs() < col(cs / 2 * 0.7))
        cloth_rgb = _hsv(nu(f"cloth_hue{i}"), torch.full_like(hw, 0.75), torch.full_like(hw, 0.8))
        b_alb = torch.where(cloth[..., None], cloth_rgb[:, None, :], b_alb)
    gap = on_box & (k_box == _PILLOWS) & ((px - col(bed_x)).abs() < 0.03)
    b_alb = torch.where(gap[..., None], b_alb * 0.6, b_alb)
    stand_hit = on_box & (k_box == _STAND)
    drawer = stand_hit & ~top & ((py - col(st_h - 0.2)).abs() < 0.015)
    knob = stand_hit & ~top & ((py - col(st_h - 0.1)).abs() < 0.025) & ((px - col(st_x)).abs() < 0.03)
    b_alb = torch.where((drawer | knob)[..., None], b_alb * 0.45, b_alb)
    albedo = torch.where(on_box[..., None], b_alb, albedo)

    light_rgb = emission.new_tensor([1.0, 0.78, 0.5])
    glow = on_box & (k_box == _SHADE)
    emission = torch.where(on_box[..., None], 0.0, emission)
    emission = torch.where(glow[..., None], (1.15 * p.indoor_lighting)[:, None, None] * light_rgb, emission)

    # ---- lighting
    indoor = p.indoor_lighting
    sun = day.float()
    warm = emission.new_tensor([1.0, 0.86, 0.7])
    cool = emission.new_tensor([0.9, 0.96, 1.06])
    ambient = (0.3 + 0.25 * col(indoor) + 0.55 * col(sun))[..., None] * _lerp(warm, cool, col(sun)[..., None] * 0.8)
    ambient = ambient * (0.93 + 0.07 * normal[..., 1:2])

    # Ambient occlusion towards the room's edges.
    dist = torch.stack([col(depth) - pz, px + col(hw), col(hw) - px, py, _CEILING - py], dim=-1)
    dist = dist.scatter(-1, surf[..., None], 1e3)
    edge = dist.amin(dim=-1)
    occl = 1.0 - 0.35 * torch.exp(-edge / 0.3)
    # Contact shadows on the floor around objects standing on it.
    fb = list(_FLOOR_BOXES)
    sx = torch.maximum(lo[:, fb, 0, None] - px[:, None], px[:, None] - hi[:, fb, 0, None]).clamp_(min=0)
    sz = torch.maximum(lo[:, fb, 2, None] - pz[:, None], pz[:, None] - hi[:, fb, 2, None]).clamp_(min=0)
    near2 = (sx * sx + sz * sz).amin(dim=1)
    contact = 1.0 - 0.55 * torch.exp(-near2 / 0.02)
    floor_like = (surf == _FLOOR) & ~on_box
    occl = torch.where(on_box, 1.0, occl)
    occl = torch.where(floor_like, occl * contact, occl)

    def point_light(pos, power, radius):
        lx = col(pos[0]) - px
        ly = col(pos[1]) - py
        lz = col(pos[2]) - pz
        d2 = lx * lx + ly * ly + lz * lz
        cos = (normal[..., 0] * lx + normal[..., 1] * ly + normal[..., 2] * lz) * torch.rsqrt(d2 + 1e-6)
        return col(power) * cos.clamp_(min=0) / (1.0 + d2 / radius ** 2)

    lamp_on = has["lamp"].float()
    light_pos = (torch.where(has["lamp"], lamp_x, torch.zeros_like(lamp_x)),
                 torch.where(has["lamp"], shade_y0 + shade_h * 0.4, torch.full_like(lamp_x, _CEILING - 0.1)),
                 torch.where(has["lamp"], lamp_z, 0.55 * depth))
    power = indoor * (1.4 + 0.4 * lamp_on)
    e_lamp = point_light(light_pos, power, torch.where(has["lamp"], 1.6, 2.6)[:, None])
    win_c = win_y0 + wh / 2
    win_pos = (torch.where(window_back, win_s, torch.where(side_wall == _RIGHT, hw - 0.4, -hw + 0.4)),
               win_c,
               torch.where(window_back, depth - 0.4, win_s))
    e_win = point_light(win_pos, 1.5 * sun * has["window"].float(), 2.5)
    light = ambient * occl[..., None] + e_lamp[..., None] * light_rgb + e_win[..., None] * cool
    rgb = albedo * light + emission

    # A soft shoulder instead of a hard clip, and a faint vignette.
    rgb = rgb / (1.0 + 0.25 * rgb) * 1.25
    vig = 1.0 - 0.18 * (u * u + v * v)
    rgb = rgb * vig[None, :, None]
    return rgb.clamp_(0.0, 1.0)
