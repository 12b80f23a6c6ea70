"""The rooms world's semantics: what each score means, and drawing the rooms that have them.

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

A room is decided by a :class:`RoomParams` (the scores plus nuisance);
:mod:`strata.engine.rooms.render` draws it.

Exports: :data:`SEMANTICS`, :data:`REQUIRES`, :class:`RoomParams`,
:func:`sample_params`, :func:`scores_of`, :func:`semantic`,
:func:`score_range`, :func:`nuisance`; :class:`SemanticSpec` is the
predictor registry's (:mod:`strata.engine.discovery.predictors`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import torch

from strata.engine.discovery.predictors import SemanticSpec

__all__ = [
    "NUM_NUISANCE",
    "REQUIRES",
    "SEMANTICS",
    "RoomParams",
    "SemanticSpec",
    "filled",
    "nuisance",
    "sample_params",
    "score_range",
    "scores_of",
    "semantic",
]

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


def nuisance(params: RoomParams, name: str) -> torch.Tensor:
    """The nuisance factor ``name`` of every room: ``[n]`` uniform in [0, 1)."""
    return params.nuisance[:, _NU[name]]


def filled(params: RoomParams, value: float) -> torch.Tensor:
    """``value`` for every room: float32 ``[n]`` on the rooms' device."""
    return torch.full((len(params),), value, device=params.device)
