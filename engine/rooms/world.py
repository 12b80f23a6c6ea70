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
    ``room_depth`` in [0, 1]: distance to the back wall, 4.5 m (0) to 7.5 m (1).
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
    blue (1, 240 degrees). It shows only when there is a bed
    (:data:`REQUIRES`); it is drawn for every room all the same.

Images are float32 ``[n, 3, H, W]`` in [-1, 1] (the GAN convention).

Exports: :data:`SEMANTICS`, :class:`SemanticSpec`, :class:`RoomParams`,
:func:`sample_params`, :func:`scores_of`, :func:`render_rooms`,
:func:`sample_rooms`, :func:`to_uint8`, :func:`semantic`, :func:`score_range`,
:func:`surface_map`.
"""

from __future__ import annotations

import dataclasses
import functools
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
    "score_range",
    "surface_map",
    "REQUIRES",
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
                 "distance to the back wall in [0, 1] (4.5 m to 7.5 m); deeper makes the back wall smaller"),
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

# Semantics that only show when a binary one is 1: the bedding's colour
# needs a bed. Their scores are still drawn for every room.
REQUIRES: dict[str, str] = {"bedding_hue": "bed"}


def score_range(name: str) -> tuple[float, float]:
    """The range ``(low, high)`` a score is sampled in: (0, 1) for binary semantics."""
    semantic(name)
    return _RANGES.get(name, (0.0, 1.0))


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
_PITCH = 0.18          # the camera looks down by this much, radians
_MAX_YAW = 0.38         # camera turn at |view_yaw| = 1, radians
_FOCAL = 1.0 / math.tan(math.radians(35.0))  # 70 degree horizontal field of view
_CAM_Z = 0.2            # the camera stands just inside the front wall
_BED_TOP = 0.52         # height of the mattress top

# Room surfaces hit by a ray.
_BACK, _LEFT, _RIGHT, _FLOOR, _CEIL = 0, 1, 2, 3, 4

# Box slots.
_BED, _HEADBOARD, _PILLOWS, _STAND, _SHADE, _LAMP_BASE = 0, 1, 2, 3, 4, 5
_CLUTTER = (6, 7, 8, 9)
_NUM_BOXES = 10

# Materials: per image a palette row (albedo and emission); a pixel picks one
# and a brightness factor (wood grain, curtain folds, ...). Layers drawn later
# have larger indices, so that "the later layer wins" is a maximum. Box slot k
# is material _M_BOX + k.
(_M_WALL, _M_CEIL, _M_TRIM, _M_WOOD, _M_CARPET, _M_RUG, _M_RUG_EDGE, _M_WIN_FRAME, _M_GLASS, _M_TREES,
 _M_CURTAIN, _M_ROD, _M_PIC_FRAME, _M_PIC_A, _M_PIC_B, _M_PIC_C) = range(16)
_M_BOX = 16
(_M_BED_FRAME, _M_SHEET, _M_FOLD, _M_CLOTH0, _M_CLOTH1, _M_GLOW) = range(_M_BOX + _NUM_BOXES, _M_BOX + _NUM_BOXES + 6)
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


def _screen(resolution: int, device) -> tuple[torch.Tensor, torch.Tensor]:
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
    y_c = r[..., 1] * math.cos(_PITCH) + z1 * math.sin(_PITCH)
    z_c = z1 * math.cos(_PITCH) - r[..., 1] * math.sin(_PITCH)
    behind = (z_c < 0.05).any(dim=1, keepdim=True)
    z_c = z_c.clamp(min=0.05)
    u, v = _FOCAL * x1 / z_c, _FOCAL * y_c / z_c
    b = torch.stack([u.amin(1), u.amax(1), v.amin(1), v.amax(1)], dim=1).clamp(-1.5, 1.5)
    b = torch.where(behind, b.new_tensor([-1.5, 1.5, -1.5, 1.5]), b)
    return torch.where(on[:, None], b, b.new_tensor([math.inf, -math.inf, math.inf, -math.inf]))


def _union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Screen bounds covering both ``a`` and ``b`` (each ``[n, 4]``)."""
    return torch.stack([torch.minimum(a[:, 0], b[:, 0]), torch.maximum(a[:, 1], b[:, 1]),
                        torch.minimum(a[:, 2], b[:, 2]), torch.maximum(a[:, 3], b[:, 3])], dim=1)


def _corners(n: int, device, x: tuple, y: tuple, z: tuple) -> torch.Tensor:
    """The corners ``[n, 8, 3]`` of boxes spanning ``x``, ``y``, ``z`` (pairs of
    floats or ``[n]`` tensors); a flat box repeats corners, which is harmless."""
    def full(value):
        return torch.as_tensor(value, dtype=torch.float32, device=device).expand(n)
    return torch.stack([torch.stack([full(a), full(b), full(d)], dim=-1) for a in x for b in y for d in z], dim=1)


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
        scene = _scene(params)
        present = scene.pop("present")                          # [n, K]
        # Images with the same objects render together, so that a chunk
        # skips the boxes and the wall and floor details none of its images has.
        order = torch.argsort(scene.pop("group"), stable=True)
        u, v = _screen(resolution, params.device)
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            part = {key: value[idx] for key, value in scene.items()}
            boxes = present[idx].any(0).nonzero()[:, 0].tolist()
            result = _shade(part, u, v, boxes, labels=labels)   # [c, 3 or 1, H, W]
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
    group = torch.zeros(n, dtype=torch.int64, device=dev)
    for flag in ("bed", "clutter", "window", "lamp", "nightstand", "painting", "rug"):  # costliest first
        group = 2 * group + has[flag].long()
    s["group"] = 2 * group + (p.wood_floor > 0.5).long()

    # ---- camera and room
    hw = 1.8 + 0.4 * nu("room_width")               # half width of the room
    depth = 4.5 + 3.0 * p.room_depth                 # z of the back wall
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

    st_w = 0.5 + 0.15 * nu("stand_width")
    st_h = 0.55 + 0.12 * nu("stand_height")
    side = torch.where(nu("stand_side") < 0.5, -1.0, 1.0)
    offset = bed_w / 2 + 0.12 + st_w / 2
    st_x = bed_x + side * offset
    st_x = torch.where(st_x.abs() + st_w / 2 > hw - 0.03, bed_x - side * offset, st_x)
    put(_STAND, st_x - st_w / 2, st_x + st_w / 2, 0.0, st_h, depth - 0.45, depth - 0.02, has["nightstand"])
    s["st_x"], s["st_h"] = st_x, st_h

    # Lamp: on the nightstand if there is one, else hanging from the ceiling.
    table = has["nightstand"]
    pend_z = 2.3 + (depth - 3.8) * nu("pendant_z")
    pend_x = _in_view(s, pend_z, 0.5 * (2 * nu("pendant_x") - 1), hw - 0.6)
    pend_y0 = _CEILING - 0.8 - 0.3 * nu("pendant_drop")
    lamp_x = torch.where(table, st_x, pend_x)
    lamp_z = torch.where(table, depth - 0.24, pend_z)
    shade_y0 = torch.where(table, st_h + 0.24, pend_y0)
    shade_h = torch.where(table, 0.36, 0.22)
    shade_r = torch.where(table, 0.21, 0.26)
    put(_SHADE, lamp_x - shade_r, lamp_x + shade_r, shade_y0, shade_y0 + shade_h,
        lamp_z - shade_r, lamp_z + shade_r, has["lamp"])
    base_y0 = torch.where(table, st_h, shade_y0 + shade_h)
    base_y1 = torch.where(table, st_h + 0.25, full(_CEILING))
    base_r = torch.where(table, 0.05, 0.015)
    put(_LAMP_BASE, lamp_x - base_r, lamp_x + base_r, base_y0, base_y1,
        lamp_z - base_r, lamp_z + base_r, has["lamp"])
    s["pendant"] = (~table).float()

    # Clutter lies in front of the bed, within the field of view.
    clutter_zmax = torch.clamp(bed_z0 - 0.3, min=2.4)
    for i, k in enumerate(_CLUTTER):
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
    s["win_wall"] = torch.where(has["window"], torch.where(window_back, _BACK, side_wall), -1).float()
    s["win_s"], s["win_y0"], s["win_hw"], s["win_h"] = win_s, win_y0, ww / 2, wh

    pw = 0.7 + 0.5 * nu("painting_width")
    ph = 0.5 + 0.3 * nu("painting_height")
    back_s = torch.clamp(bed_x + (nu("painting_pos") - 0.5) * 0.5, -hw + pw / 2 + 0.2, hw - pw / 2 - 0.2)
    s_lo, s_hi = side_z_lo + pw / 2, depth - pw / 2 - 0.3
    side_s = s_lo + torch.clamp(s_hi - s_lo, min=0.0) * nu("painting_pos")
    pic_back = ~window_back
    pic_y0 = torch.where(pic_back, torch.clamp(head_h + 0.18, min=1.25), 1.15)
    s["pic_wall"] = torch.where(has["painting"], torch.where(pic_back, _BACK, side_wall), -1).float()
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
        _M_BOX + _BED: bedding_rgb,
        _M_BOX + _HEADBOARD: torch.where(nu("headboard_fabric")[:, None] < 0.5, frame_rgb,
                                _hsv(nu("headboard_fabric"), full(0.15), full(0.55))),
        _M_BOX + _PILLOWS: pillow_rgb,
        _M_BOX + _STAND: _hsv(full(0.07), full(0.45), 0.3 + 0.4 * nu("stand_width")),
        _M_BOX + _SHADE: shade_rgb,
        _M_BOX + _LAMP_BASE: rgb(0.15, 0.14, 0.13),
        **{_M_BOX + k: _hsv(nu(f"clutter_hue{i}"), full(0.7), 0.55 + 0.35 * nu(f"clutter_h{i}"))
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
    emission[:, _M_BOX + _SHADE] = torch.where(table[:, None], glow, 0.0)   # a table lamp's shade glows all over
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

    # ---- where things can show on screen, so that shading skips the rest
    s["box_bounds"] = torch.stack([
        _bounds(s, _corners(n, dev, (lo[:, k, 0], hi[:, k, 0]), (lo[:, k, 1], hi[:, k, 1]), (lo[:, k, 2], hi[:, k, 2])),
                present[:, k])
        for k in range(_NUM_BOXES)], dim=1)                                     # [n, K, 4]

    def on_wall(wall, s0, s1, y0, y1, on):
        x = torch.where(wall == _BACK, s0, torch.where(wall == _LEFT, -hw, hw))
        x_far = torch.where(wall == _BACK, s1, x)
        z = torch.where(wall == _BACK, depth, s0)
        z_far = torch.where(wall == _BACK, depth, s1)
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
                                  (lo[:, k, 2] - 0.3, hi[:, k, 2])), present[:, k]) for k in (_BED, _STAND)]
    s["shadow_bounds"] = _union(*shadow)
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


def _in_view(s: dict[str, torch.Tensor], z: torch.Tensor, across: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    """x of a point at depth ``z`` that the camera sees ``across`` of the way
    from the centre of its view to the edge (-1 left, +1 right), kept within
    ``[-limit, limit]``."""
    cam_x, cam_z = s["cam"][:, 0], s["cam"][:, 2]
    x = cam_x + (z - cam_z) * (s["sin_yaw"] / s["cos_yaw"] + across / _FOCAL)
    return torch.maximum(torch.minimum(x, limit), -limit)


def _shade(s: dict[str, torch.Tensor], u: torch.Tensor, v: torch.Tensor, boxes: list[int],
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
    y1 = v * math.cos(_PITCH) - _FOCAL * math.sin(_PITCH)
    z1 = v * math.sin(_PITCH) + _FOCAL * math.cos(_PITCH)
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
    ty = (up * _CEILING - cam_y) * iy
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
    surf = side + is_right + 3 * floor + 4 * is_ceil   # _BACK, _LEFT, _RIGHT, _FLOOR, _CEIL

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
    mat = torch.maximum(is_ceil * _M_CEIL, wall * torch.maximum(_lt(py, 0.1), _lt(_CEILING - 0.06, py)) * _M_TRIM)
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
        ws = (wpx - wpz) * _eq(win_wall, _BACK) + wpz - col(s["win_s"])
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
        qs = (px[where] - qpz) * _eq(pic_wall, _BACK) + qpz - col(s["pic_s"])
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
        where = rect(_union(s["box_bounds"][:, _BED], s["box_bounds"][:, _PILLOWS])) if _BED in boxes else None
        if where is not None:
            bpx, bpy, bpz, bslot = px[where], py[where], pz[where], slot[where]
            is_bed = _eq(bslot, _BED)
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
            gap = _eq(bslot, _PILLOWS) * _lt((bpx - col(s["bed_x"])).abs_(), 0.03)
            update(factor, where, factor[where] * (1 - 0.5 * gap))
        where = rect(s["box_bounds"][:, _SHADE]) if _SHADE in boxes and s["pendant"].any() else None
        if where is not None:
            glow = _eq(slot[where], _SHADE) * col(s["pendant"]) * _lt(ny[where], -0.5)
            update(mat, where, torch.maximum(mat[where], glow * _M_GLOW))
        where = rect(s["box_bounds"][:, _STAND]) if _STAND in boxes else None
        if where is not None:
            spy = py[where]
            st_h = col(s["st_h"])
            drawer = _eq(slot[where], _STAND) * (1 - top[where]) * torch.maximum(
                _lt((spy - (st_h - 0.2)).abs_(), 0.015),
                _lt((spy - (st_h - 0.1)).abs_(), 0.025) * _lt((px[where] - col(s["st_x"])).abs_(), 0.03))
            update(factor, where, factor[where] * (1 - 0.5 * drawer))

    # ---- lighting
    # Ambient occlusion towards the room's edges: of the distances to the
    # nearest x, y and z planes one is ~0 (the surface's own), so the edge
    # distance is the median of the three.
    d_x = hw - px.abs()
    d_y = torch.minimum(py, _CEILING - py)
    d_z = depth - pz
    edge = d_x + d_y + d_z - torch.maximum(torch.maximum(d_x, d_y), d_z) - torch.minimum(torch.minimum(d_x, d_y), d_z)
    occl = 1.0 - 0.35 / (1.0 + (edge * 4.0) ** 2)
    # Contact shadows on the floor around the bed and the nightstand.
    where = rect(s["shadow_bounds"])
    if where is not None:
        spx, spz = px[where], pz[where]
        near2 = None
        for k in (_BED, _STAND):
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


def main(argv: list[str] | None = None) -> int:
    """``python -m strata.engine.rooms.world OUT.png [--resolution R] [--seed S] [--rows N]``: save a grid of rooms."""
    import argparse
    import io

    from PIL import Image

    from strata.engine.core.atomic import atomic_write_bytes

    parser = argparse.ArgumentParser(prog="python -m strata.engine.rooms.world", description="Save a grid of procedural rooms.")
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--rows", type=int, default=4, help="the grid is rows x rows images")
    args = parser.parse_args(argv)
    r, k = args.resolution, args.rows
    images, _ = sample_rooms(k * k, seed=args.seed, resolution=r)
    grid = to_uint8(images).reshape(k, k, r, r, 3).transpose(0, 2, 1, 3, 4).reshape(k * r, k * r, 3)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG", optimize=True)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}: {k}x{k} rooms at {r}x{r}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
