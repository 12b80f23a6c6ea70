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
_PITCH = 0.12           # the camera looks down by this much, radians
_MAX_YAW = 0.38         # camera turn at |view_yaw| = 1, radians
_FOCAL = 1.0 / math.tan(math.radians(40.0))  # 80 degree horizontal field of view
_CAM_Z = 0.2            # the camera stands just inside the front wall
_BED_TOP = 0.52         # height of the mattress top

# Room surfaces hit by a ray.
_BACK, _LEFT, _RIGHT, _FLOOR, _CEIL = 0, 1, 2, 3, 4

# Box slots. A box's slot is also its material below.
_BED, _HEADBOARD, _PILLOWS, _STAND, _SHADE, _LAMP_BASE = 0, 1, 2, 3, 4, 5
_CLUTTER = (6, 7, 8, 9)
_NUM_BOXES = 10

# Materials: per image a palette row (albedo and emission); a pixel picks one
# and a brightness factor (wood grain, curtain folds, ...).
(_M_WALL, _M_TRIM, _M_CEIL, _M_WOOD, _M_CARPET, _M_RUG, _M_RUG_EDGE, _M_WIN_FRAME, _M_GLASS, _M_TREES,
 _M_CURTAIN, _M_ROD, _M_PIC_FRAME, _M_PIC_A, _M_PIC_B, _M_PIC_C, _M_BED_FRAME, _M_SHEET, _M_FOLD,
 _M_CLOTH0, _M_CLOTH1, _M_GLOW) = range(_NUM_BOXES, _NUM_BOXES + 22)
_NUM_MATERIALS = _NUM_BOXES + 22

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
    """A cheap hash of integer-valued float tensors to [0, 1) (texture noise only)."""
    x = None
    for i, k in enumerate(values):
        term = k * (12.9898, 78.233, 37.719)[i % 3]
        x = term if x is None else x + term
    return torch.frac(torch.sin(x).mul_(43758.5453)).abs_()


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
        scene = _scene(params)
        present = scene.pop("present")                          # [n, K]
        # Images with the same boxes render together, so that each chunk
        # tests only the boxes that some image of it has.
        weights = 2 ** torch.arange(_NUM_BOXES, device=present.device)
        order = torch.argsort((present.long() * weights).sum(1), stable=True)
        u, v = _screen(resolution, params.device)
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            part = {key: value[idx] for key, value in scene.items()}
            boxes = present[idx].any(0).nonzero()[:, 0]
            rgb = _shade(part, u, v, boxes)  # [3, c, P] in [0, 1]
            out[idx] = rgb.transpose(0, 1).reshape(len(idx), 3, resolution, resolution).mul(2.0).sub(1.0)
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


def _scene(p: RoomParams) -> dict[str, torch.Tensor]:
    """Everything decided per image (geometry, palette, lights), batch-first.

    Computed once for the whole batch so that the per-chunk shading only does
    per-pixel work.
    """
    dev = p.device
    n = len(p)

    def nu(name: str) -> torch.Tensor:
        return p.nuisance[:, _NU[name]]

    def full(value: float) -> torch.Tensor:
        return torch.full((n,), value, device=dev)

    def rgb(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=dev).expand(n, 3)

    has = {name: getattr(p, name) > 0.5
           for name in ("bed", "window", "lamp", "painting", "rug", "nightstand", "clutter")}
    day = p.natural_lighting > 0.5
    s: dict[str, torch.Tensor] = {}

    # ---- camera and room
    hw = 1.8 + 0.4 * nu("room_width")               # half width of the room
    depth = 4.0 + 3.0 * p.room_depth                 # z of the back wall
    s["hw"], s["depth"] = hw, depth
    s["cam"] = torch.stack([-0.6 * p.view_yaw, 1.0 + 0.8 * p.camera_height, full(_CAM_Z)], dim=-1)
    yaw = _MAX_YAW * p.view_yaw
    s["cos_yaw"], s["sin_yaw"] = torch.cos(yaw), torch.sin(yaw)

    # ---- boxes
    lo = torch.zeros(n, _NUM_BOXES, 3, device=dev)
    hi = torch.zeros(n, _NUM_BOXES, 3, device=dev)
    present = torch.zeros(n, _NUM_BOXES, dtype=torch.bool, device=dev)

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
    put(_BED, bed_x - bed_w / 2, bed_x + bed_w / 2, 0.0, _BED_TOP, bed_z0, depth - 0.07, has["bed"])
    put(_HEADBOARD, bed_x - bed_w / 2 - 0.05, bed_x + bed_w / 2 + 0.05, 0.0, head_h,
        depth - 0.08, depth - 0.005, has["bed"])
    put(_PILLOWS, bed_x - bed_w / 2 + 0.1, bed_x + bed_w / 2 - 0.1, _BED_TOP, _BED_TOP + 0.15,
        depth - 0.55, depth - 0.1, has["bed"])
    s["bed_x"], s["fold_z"] = bed_x, depth - 0.75 - 0.25 * nu("sheet_fold")

    st_w = 0.45 + 0.15 * nu("stand_width")
    st_h = 0.5 + 0.12 * nu("stand_height")
    side = torch.where(nu("stand_side") < 0.5, -1.0, 1.0)
    offset = bed_w / 2 + 0.12 + st_w / 2
    st_x = bed_x + side * offset
    st_x = torch.where(st_x.abs() + st_w / 2 > hw - 0.03, bed_x - side * offset, st_x)
    put(_STAND, st_x - st_w / 2, st_x + st_w / 2, 0.0, st_h, depth - 0.45, depth - 0.02, has["nightstand"])
    s["st_x"], s["st_h"] = st_x, st_h

    # Lamp: on the nightstand if there is one, else hanging from the ceiling.
    table = has["nightstand"]
    pend_x = (2 * nu("pendant_x") - 1) * (hw - 0.8)
    pend_z = 2.3 + (depth - 3.5) * nu("pendant_z")
    pend_y0 = _CEILING - 0.8 - 0.3 * nu("pendant_drop")
    lamp_x = torch.where(table, st_x, pend_x)
    lamp_z = torch.where(table, depth - 0.24, pend_z)
    shade_y0 = torch.where(table, st_h + 0.2, pend_y0)
    shade_h = torch.where(table, 0.3, 0.2)
    shade_r = torch.where(table, 0.17, 0.24)
    put(_SHADE, lamp_x - shade_r, lamp_x + shade_r, shade_y0, shade_y0 + shade_h,
        lamp_z - shade_r, lamp_z + shade_r, has["lamp"])
    base_y0 = torch.where(table, st_h, shade_y0 + shade_h)
    base_y1 = torch.where(table, st_h + 0.21, full(_CEILING))
    base_r = torch.where(table, 0.05, 0.015)
    put(_LAMP_BASE, lamp_x - base_r, lamp_x + base_r, base_y0, base_y1,
        lamp_z - base_r, lamp_z + base_r, has["lamp"])
    s["pendant"] = ~table

    clutter_zmax = torch.clamp(bed_z0 - 0.3, min=1.7)
    for i, k in enumerate(_CLUTTER):
        sx = 0.14 + 0.26 * nu(f"clutter_sx{i}")
        sz = 0.14 + 0.26 * nu(f"clutter_sz{i}")
        h = 0.04 + 0.26 * nu(f"clutter_h{i}") ** 2
        x = (2 * nu(f"clutter_x{i}") - 1) * (hw - 0.35)
        z = 1.35 + (clutter_zmax - 1.35) * nu(f"clutter_z{i}")
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
    s["clutter"] = has["clutter"]

    # ---- floor and rug
    s["wood"] = p.wood_floor > 0.5
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
    side_wall = torch.where(p.view_yaw >= 0, _RIGHT, _LEFT)
    window_back = nu("window_side") < 0.5
    side_z_lo = torch.clamp(0.55 * depth, min=2.7)
    ww = 0.8 + 0.5 * nu("window_width")
    wh = 0.75 + 0.35 * nu("window_height")
    back_s = (2 * nu("window_pos") - 1) * (hw - ww / 2 - 0.45)
    s_lo, s_hi = side_z_lo + ww / 2 + 0.3, depth - ww / 2 - 0.4
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("window_pos")
    win_s = torch.where(window_back, back_s, side_s)
    win_y0 = torch.where(window_back, torch.clamp(head_h + 0.12, min=1.15), 0.95)
    win_y0 = torch.minimum(win_y0, _CEILING - 0.3 - wh)
    s["win_wall"] = torch.where(has["window"], torch.where(window_back, _BACK, side_wall), -1)
    s["win_s"], s["win_y0"], s["win_hw"], s["win_h"] = win_s, win_y0, ww / 2, wh

    pw = 0.5 + 0.45 * nu("painting_width")
    ph = 0.4 + 0.3 * nu("painting_height")
    back_s = torch.clamp(bed_x + (nu("painting_pos") - 0.5) * 0.5, -hw + pw / 2 + 0.2, hw - pw / 2 - 0.2)
    s_lo, s_hi = side_z_lo + pw / 2, depth - pw / 2 - 0.3
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("painting_pos")
    pic_back = ~window_back
    pic_y0 = torch.where(pic_back, torch.clamp(head_h + 0.18, min=1.25), 1.15)
    s["pic_wall"] = torch.where(has["painting"], torch.where(pic_back, _BACK, side_wall), -1)
    s["pic_s"], s["pic_y0"] = torch.where(pic_back, back_s, side_s), torch.minimum(pic_y0, _CEILING - 0.15 - ph)
    s["pic_hw"], s["pic_h"] = pw / 2, ph
    s["pic_split"] = 0.3 + 0.35 * nu("painting_split")
    s["pic_disc"] = 0.25 + 0.5 * nu("painting_disc")

    # ---- palette
    frame_tone = nu("frame_tone")
    frame_rgb = _hsv(full(0.07), 0.35 + 0.25 * frame_tone, 0.25 + 0.55 * frame_tone)
    bedding_rgb = _hsv(p.bedding_hue * (240.0 / 360.0), full(0.55), full(0.82))
    pillow_rgb = _lerp(rgb(0.95, 0.95, 0.93), rgb(0.9, 0.85, 0.72), nu("pillow_tone")[:, None])
    shade_rgb = torch.where(table[:, None],
                            _lerp(rgb(0.95, 0.92, 0.85), rgb(0.85, 0.72, 0.5), nu("shade_tone")[:, None]),
                            _lerp(rgb(0.12, 0.12, 0.13), rgb(0.15, 0.3, 0.25), nu("shade_tone")[:, None]))
    albedo = {
        _BED: bedding_rgb,
        _HEADBOARD: torch.where(nu("headboard_fabric")[:, None] < 0.5, frame_rgb,
                                _hsv(nu("headboard_fabric"), full(0.15), full(0.55))),
        _PILLOWS: pillow_rgb,
        _STAND: _hsv(full(0.07), full(0.45), 0.3 + 0.4 * nu("stand_width")),
        _SHADE: shade_rgb,
        _LAMP_BASE: rgb(0.15, 0.14, 0.13),
        **{k: _hsv(nu(f"clutter_hue{i}"), full(0.7), 0.55 + 0.35 * nu(f"clutter_h{i}"))
           for i, k in enumerate(_CLUTTER)},
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
    emission[:, _SHADE] = torch.where(table[:, None], glow, 0.0)   # a table lamp's shade glows all over
    emission[:, _M_GLOW] = glow                                     # a pendant glows from below
    emission[:, _M_GLASS] = torch.where(day[:, None], rgb(0.85, 1.0, 1.25), rgb(0.04, 0.05, 0.11))
    emission[:, _M_TREES] = torch.where(day[:, None], rgb(0.25, 0.42, 0.2), rgb(0.03, 0.04, 0.08))
    s["emission"] = emission

    # ---- lights
    sun = day.float()
    warm = rgb(1.0, 0.86, 0.7)
    s["ambient"] = (0.3 + 0.25 * indoor + 0.55 * sun)[:, None] * _lerp(warm, rgb(*_DAY_RGB), 0.8 * sun[:, None])
    lamp = has["lamp"]
    s["lamp_pos"] = torch.stack([torch.where(lamp, lamp_x, 0.0),
                                 torch.where(lamp, shade_y0 + 0.4 * shade_h, _CEILING - 0.1),
                                 torch.where(lamp, lamp_z, 0.55 * depth)], dim=-1)
    s["lamp_power"] = indoor * torch.where(lamp, 1.8, 1.4)
    s["lamp_radius2"] = torch.where(lamp, 1.6, 2.6) ** 2
    win_x = torch.where(window_back, win_s, torch.where(side_wall == _RIGHT, hw - 0.4, -hw + 0.4))
    s["win_pos"] = torch.stack([win_x, win_y0 + wh / 2, torch.where(window_back, depth - 0.4, win_s)], dim=-1)
    s["win_power"] = 1.5 * sun * has["window"].float()
    s["win_radius2"] = full(6.25)
    return s


def _shade(s: dict[str, torch.Tensor], u: torch.Tensor, v: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Ray-cast one chunk of rooms; returns RGB ``[3, c, P]`` in [0, 1].

    ``boxes`` lists the box slots present in at least one image of the chunk;
    only those are tested. Per-pixel quantities are ``[c, P]``; a pixel's
    material is a uint8 index into its image's palette.
    """
    dev = u.device
    c = s["hw"].shape[0]
    P = u.shape[0]

    def col(x: torch.Tensor) -> torch.Tensor:      # [c] -> [c, 1]
        return x[:, None]

    # ---- rays
    cam = s["cam"]
    cam_x, cam_y, cam_z = col(cam[:, 0]), col(cam[:, 1]), col(cam[:, 2])
    y1 = v * math.cos(_PITCH) - _FOCAL * math.sin(_PITCH)
    z1 = v * math.sin(_PITCH) + _FOCAL * math.cos(_PITCH)
    ca, sa = col(s["cos_yaw"]), col(s["sin_yaw"])
    dx = u * ca + z1 * sa                            # [c, P]
    dz = z1 * ca - u * sa
    dy = y1                                          # the pitch is fixed, so dy is shared: [P]
    ix, iy, iz = 1.0 / dx, 1.0 / dy, 1.0 / dz

    # ---- room: the ray's exit point from the (convex) box of the room
    hw, depth = col(s["hw"]), col(s["depth"])
    right = dx >= 0
    up = dy >= 0
    tx = (torch.where(right, hw, -hw) - cam_x) * ix
    ty = (torch.where(up, _CEILING, 0.0) - cam_y) * iy
    t = (depth - cam_z) * iz
    surf = torch.full((c, P), _BACK, dtype=torch.uint8, device=dev)
    m = tx < t
    t = torch.where(m, tx, t)
    surf = torch.where(m, torch.where(right, _RIGHT, _LEFT).to(torch.uint8), surf)
    m = ty < t
    t = torch.where(m, ty, t)
    surf = torch.where(m, torch.where(up, _CEIL, _FLOOR).to(torch.uint8), surf)

    # ---- slab test of every ray against every box: [c, K, P]
    # Every box lies beyond the camera in z and every ray has dz > 0, so the
    # z slab is entered at lo and left at hi, and t_near > 0 always.
    if len(boxes):
        lo, hi = s["lo"][:, boxes], s["hi"][:, boxes]
        o_lo = lo - cam[:, None, :]
        o_hi = hi - cam[:, None, :]
        t_near = o_lo[:, :, 2, None] * iz[:, None, :]
        t_far = o_hi[:, :, 2, None] * iz[:, None, :]
        for a, inv in ((0, ix[:, None, :]), (1, iy)):
            ta = o_lo[:, :, a, None] * inv
            tb = o_hi[:, :, a, None] * inv
            torch.maximum(t_near, torch.minimum(ta, tb), out=t_near)
            torch.minimum(t_far, torch.maximum(ta, tb, out=ta), out=t_far)
        t_box, k_local = t_near.masked_fill_(t_near > t_far, float("inf")).min(dim=1)   # [c, P]
        on_box = t_box < t
        t = torch.where(on_box, t_box, t)
        k_box = boxes[k_local]
    else:
        on_box = torch.zeros(c, P, dtype=torch.bool, device=dev)
        k_box = torch.zeros(c, P, dtype=torch.int64, device=dev)
    px = cam_x + t * dx
    py = cam_y + t * dy
    pz = cam_z + t * dz

    # Face of the hit box: the axis whose near or far plane is closest.
    if len(boxes):
        flat = k_local + torch.arange(c, device=dev)[:, None] * len(boxes)
        d_lo, d_hi = [], []
        for a, pa in enumerate((px, py, pz)):
            d_lo.append((pa - lo[:, :, a].reshape(-1).take(flat)).abs_())
            d_hi.append((pa - hi[:, :, a].reshape(-1).take(flat)).abs_())
        near = [torch.minimum(dl, dh) for dl, dh in zip(d_lo, d_hi)]
        face_x = (near[0] <= near[1]) & (near[0] <= near[2])
        top = ~face_x & (near[1] <= near[2]) & on_box
        face_z = ~face_x & ~top
        nx = torch.where(on_box & face_x, torch.where(d_lo[0] < d_hi[0], -1.0, 1.0), 0.0)
        ny = torch.where(top, torch.where(d_lo[1] < d_hi[1], -1.0, 1.0), 0.0)
        nz = torch.where(on_box & face_z, torch.where(d_lo[2] < d_hi[2], -1.0, 1.0), 0.0)
    else:
        nx = ny = nz = torch.zeros(c, P, device=dev)
        top = on_box
    room = ~on_box
    nx = torch.where(room & (surf == _LEFT), 1.0, torch.where(room & (surf == _RIGHT), -1.0, nx))
    ny = torch.where(room & (surf == _FLOOR), 1.0, torch.where(room & (surf == _CEIL), -1.0, ny))
    nz = torch.where(room & (surf == _BACK), -1.0, nz)

    # ---- materials of the room's surfaces
    u8 = torch.uint8
    mat = torch.where(surf == _CEIL, _M_CEIL, _M_WALL).to(u8)
    mat = torch.where((surf <= _RIGHT) & ((py < 0.1) | (py > _CEILING - 0.06)), _M_TRIM, mat).to(u8)
    factor = torch.ones(c, P, device=dev)

    # Floor: wooden planks running towards the back wall, or carpet.
    floor = surf == _FLOOR
    seed = col(s["seed"])
    fx = (px + hw) / col(s["plank_w"])
    plank = torch.floor(fx)
    fz = pz / col(s["plank_l"]) + _hash01(plank, seed)
    row = torch.floor(fz)
    tone = _hash01(plank, row, seed)
    seam = ((fx - plank) < 0.07) | ((fz - row) < 0.025)
    grain = 1.0 + 0.07 * torch.sin(px * 55.0 + pz * 2.0 + tone * 20.0)
    wood_shade = (0.78 + 0.35 * tone) * grain * torch.where(seam, 0.55, 1.0)
    speck = 0.93 + 0.12 * _hash01(torch.floor(px * 30), torch.floor(pz * 30), seed)
    wood = col(s["wood"])
    mat = torch.where(floor, torch.where(wood, _M_WOOD, _M_CARPET).to(u8), mat)
    factor = torch.where(floor, torch.where(wood, wood_shade, speck), factor)
    # Rug at the foot of the bed (rug_hw < 0 when there is none).
    rug_d = torch.maximum((px - col(s["rug_x"])).abs() - col(s["rug_hw"]),
                          torch.maximum(col(s["rug_z0"]) - pz, pz - col(s["rug_z1"])))  # < 0 inside
    in_rug = floor & (rug_d < 0)
    stripe = (torch.frac(pz * 3.0) < 0.22) & (rug_d < -0.28)
    mat = torch.where(in_rug, torch.where((rug_d > -0.14) | stripe, _M_RUG_EDGE, _M_RUG).to(u8), mat)
    factor = torch.where(in_rug, 1.0, factor)

    # Window with frame, mullions and curtains on a rod.
    win_wall = col(s["win_wall"])
    on_wall = surf == win_wall
    ws = torch.where(win_wall == _BACK, px, pz) - col(s["win_s"])
    wsa = ws.abs()
    wy = py - col(s["win_y0"])
    win_hw, win_h = col(s["win_hw"]), col(s["win_h"])
    in_win = on_wall & (wsa < win_hw) & (wy > 0) & (wy < win_h)
    frame_w = 0.055
    glass = in_win & (wsa < win_hw - frame_w) & (wy > frame_w) & (wy < win_h - frame_w) \
        & (wsa > 0.022) & ((wy - 0.62 * win_h).abs() > 0.022)
    fy = wy / win_h
    bumps = (torch.frac(ws * 3.1) - 0.5).abs() * 0.2 + (torch.frac(ws * 7.3) - 0.5).abs() * 0.1
    trees = fy < 0.08 + bumps
    mat = torch.where(in_win, torch.where(glass, torch.where(trees, _M_TREES, _M_GLASS), _M_WIN_FRAME).to(u8), mat)
    factor = torch.where(glass & ~trees, 1.1 - 0.3 * fy, factor)
    rod_y = col(s["win_y0"]) + win_h + 0.14
    curtain = on_wall & (wsa > win_hw - 0.06) & (wsa < win_hw + 0.28) \
        & (py < rod_y) & (py > torch.clamp(col(s["win_y0"]) - 0.45, min=0.12))
    mat = torch.where(curtain, _M_CURTAIN, mat).to(u8)
    factor = torch.where(curtain, 0.84 + 0.64 * (torch.frac(ws * 11.0) - 0.5).abs(), factor)
    rod = on_wall & ((py - rod_y).abs() < 0.02) & (wsa < win_hw + 0.34)
    mat = torch.where(rod, _M_ROD, mat).to(u8)

    # Painting: a frame around two fields of colour and a disc.
    pic_wall = col(s["pic_wall"])
    qs = torch.where(pic_wall == _BACK, px, pz) - col(s["pic_s"])
    qsa = qs.abs()
    qy = py - col(s["pic_y0"])
    pic_hw, pic_h = col(s["pic_hw"]), col(s["pic_h"])
    in_pic = (surf == pic_wall) & (qsa < pic_hw) & (qy > 0) & (qy < pic_h)
    fr = 0.045
    canvas = in_pic & (qsa < pic_hw - fr) & (qy > fr) & (qy < pic_h - fr)
    qv = qy / pic_h
    qu = qs / (2 * pic_hw) + 0.5
    lower = qv < col(s["pic_split"]) + 0.15 * (qu - 0.5)
    disc = (qu - col(s["pic_disc"])) ** 2 + (qv - 0.72) ** 2 < 0.018
    pic = torch.where(disc, _M_PIC_C, torch.where(lower, _M_PIC_B, _M_PIC_A)).to(u8)
    mat = torch.where(in_pic, torch.where(canvas, pic, _M_PIC_FRAME).to(u8), mat)

    # ---- materials of boxes: the slot, with details on the bed, pillows, nightstand, lamp
    box_mat = k_box.to(u8)
    is_bed = on_box & (k_box == _BED)
    bed_top = is_bed & top
    fold_z = col(s["fold_z"])
    box_mat = torch.where(is_bed & ~top & (py < 0.27), _M_BED_FRAME, box_mat).to(u8)
    box_mat = torch.where(bed_top & (pz > fold_z - 0.16),
                          torch.where(pz > fold_z, _M_SHEET, _M_FOLD).to(u8), box_mat)
    cloth = s["cloth"]
    for i, m in enumerate((_M_CLOTH0, _M_CLOTH1)):
        on_cloth = bed_top & col(s["clutter"]) & ((px - col(cloth[:, i, 0])).abs() < col(cloth[:, i, 2])) \
            & ((pz - col(cloth[:, i, 1])).abs() < col(cloth[:, i, 3]))
        box_mat = torch.where(on_cloth, m, box_mat).to(u8)
    box_mat = torch.where(on_box & (k_box == _SHADE) & col(s["pendant"]) & (ny < -0.5), _M_GLOW, box_mat).to(u8)
    stand = on_box & (k_box == _STAND) & ~top
    st_h = col(s["st_h"])
    dark = (on_box & (k_box == _PILLOWS) & ((px - col(s["bed_x"])).abs() < 0.03)) \
        | (stand & ((py - (st_h - 0.2)).abs() < 0.015)) \
        | (stand & ((py - (st_h - 0.1)).abs() < 0.025) & ((px - col(s["st_x"])).abs() < 0.03))
    mat = torch.where(on_box, box_mat, mat)
    factor = torch.where(on_box, torch.where(dark, 0.5, 1.0), factor)

    # ---- lighting
    # Ambient occlusion towards the room's edges (a surface's own plane is at ~0).
    edge = None
    for d in (depth - pz, px + hw, hw - px, py, _CEILING - py):
        d = torch.where(d > 1e-3, d, 1e3)
        edge = d if edge is None else torch.minimum(edge, d)
    occl = 1.0 - 0.35 * torch.exp(-edge / 0.3)
    # Contact shadows on the floor around the bed and the nightstand.
    fb = [_BED, _STAND]
    lo_all, hi_all = s["lo"], s["hi"]
    sx = torch.maximum(lo_all[:, fb, 0, None] - px[:, None], px[:, None] - hi_all[:, fb, 0, None]).clamp_(min=0)
    sz = torch.maximum(lo_all[:, fb, 2, None] - pz[:, None], pz[:, None] - hi_all[:, fb, 2, None]).clamp_(min=0)
    near2 = (sx * sx + sz * sz).amin(dim=1)
    occl = torch.where(room & floor, occl * (1.0 - 0.55 * torch.exp(-near2 / 0.02)), occl)
    occl = torch.where(on_box, 1.0, occl) * (0.93 + 0.07 * ny)

    def point_light(pos, power, radius2):
        lx = col(pos[:, 0]) - px
        ly = col(pos[:, 1]) - py
        lz = col(pos[:, 2]) - pz
        d2 = lx * lx + ly * ly + lz * lz
        cos = (nx * lx + ny * ly + nz * lz) * torch.rsqrt(d2 + 1e-6)
        return col(power) * cos.clamp_(min=0) / (1.0 + d2 / col(radius2))

    e_lamp = point_light(s["lamp_pos"], s["lamp_power"], s["lamp_radius2"])
    e_win = point_light(s["win_pos"], s["win_power"], s["win_radius2"])

    # ---- look up the palette and light it
    M = _NUM_MATERIALS
    index = mat.long() + torch.arange(c, device=dev)[:, None] * M
    albedo = s["albedo"].permute(2, 0, 1).reshape(3, c * M)[:, index]      # [3, c, P]
    emission = s["emission"].permute(2, 0, 1).reshape(3, c * M)[:, index]
    light = s["ambient"].T[:, :, None] * occl \
        + torch.tensor(_LIGHT_RGB, device=dev).view(3, 1, 1) * e_lamp \
        + torch.tensor(_DAY_RGB, device=dev).view(3, 1, 1) * e_win
    out = (albedo * light + emission) * factor
    # A soft shoulder instead of a hard clip, and a faint vignette.
    out = out / (1.0 + 0.25 * out) * (1.25 * (1.0 - 0.18 * (u * u + v * v)))
    return out.clamp_(0.0, 1.0)
