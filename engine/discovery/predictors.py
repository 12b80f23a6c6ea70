"""Semantic predictors: anything that maps images to named scores, found by name in a registry.

A *predictor* scores images ``[n, 3, H, W]`` in [-1, 1] for a set of named
semantics. Discovery uses one to annotate generated scenes before fitting
boundaries and to rescore them layer by layer; the rooms world uses one to
evaluate generators.

This registry is the plug-in point for predictors of real scenes (say, a
Places365 classifier for HiGAN's bedrooms). A package makes its predictor
known in either of two ways:

- an entry point in the group ``strata.predictors``, naming a factory; the
  registry reads the group the first time names are listed or looked up,
  and imports the factory's module only when that predictor is asked for.
  Strata's own ``"rooms"`` predictor comes in this way (``pyproject.toml``),
  which is how discovery finds it without importing :mod:`strata.engine.rooms`::

      [project.entry-points."strata.predictors"]
      places = "my_package.places:load_places_predictor"

- or a call at run time (tests, notebooks)::

      register_predictor("places", lambda **kw: MyPlacesPredictor(**kw))

A factory is called with no arguments for its default weights, and with
``path=`` to read a predictor file of its own kind.

Public API
----------
Predictor
    The protocol: ``name``, ``semantics``, ``input_resolution``, ``predict``.
SemanticSpec
    One named semantic a predictor scores: name, level, kind, doc.
resolve_predictor(spec, device=None, *, path=None)
    The one way to turn a name, a predictor file or an object into a predictor.
register_predictor(name, factory), unregister_predictor(name), get_predictor(name, **kw),
available_predictors()
    The registry.
FunctionPredictor
    Wraps a plain function as a predictor.
prepare_images(images, resolution, *, clamp=True)
    Check, clamp and resize images to a predictor's input.
PredictorError
    A predictor could not be found or loaded; the message names it (or its file).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from strata.engine.core.errors import StrataError

__all__ = [
    "DEFAULT_PREDICTOR",
    "ENTRY_POINT_GROUP",
    "FunctionPredictor",
    "Predictor",
    "PredictorError",
    "SemanticSpec",
    "available_predictors",
    "get_predictor",
    "prepare_images",
    "register_predictor",
    "resolve_predictor",
    "unregister_predictor",
]

ENTRY_POINT_GROUP = "strata.predictors"
# The predictor a bare predictor file (a name ending in .pth) is read by: the demo world's,
# the only kind of file Strata writes. Only the name lives here; the code comes through the entry point.
DEFAULT_PREDICTOR = "rooms"
FILE_SUFFIX = ".pth"

LEVELS = ("layout", "object", "attribute", "colour")
KINDS = ("continuous", "binary")


class PredictorError(StrataError):
    """A predictor could not be found, or its file could not be read or does not describe one."""


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
    def from_dict(cls, d: Mapping) -> SemanticSpec:
        return cls(name=str(d["name"]), level=str(d["level"]), kind=str(d["kind"]), doc=str(d["doc"]))


@runtime_checkable
class Predictor(Protocol):
    """What Strata needs from a predictor.

    Attributes
    ----------
    name : str
        The registry name, e.g. ``"rooms"``.
    semantics : tuple of SemanticSpec
        What it scores (name, level, kind, doc). Binary semantics are scored
        by a probability in [0, 1].
    input_resolution : int or None
        The square size it wants; callers may resize to it (a predictor must
        accept other sizes too). None: any size.
    """

    name: str
    semantics: tuple[SemanticSpec, ...]
    input_resolution: int | None

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scores ``{semantic name: float tensor [n]}`` of images ``[n, 3, H, W]`` in [-1, 1]."""
        ...


# --------------------------------------------------------------------------- registry

_FACTORIES: dict[str, Callable[..., Predictor]] = {}
_entry_points_read = False


class _EntryPointFactory:
    """A factory named by an entry point, imported on its first call (listing names imports nothing)."""

    def __init__(self, entry_point: EntryPoint):
        self.entry_point = entry_point
        self._factory: Callable[..., Predictor] | None = None

    def __call__(self, **kw) -> Predictor:
        if self._factory is None:
            try:
                self._factory = self.entry_point.load()
            except Exception as exc:  # a broken plug-in must not take the others down with it
                raise PredictorError(f"predictor {self.entry_point.name!r} ({self.entry_point.value}) cannot "
                                     f"be loaded: {type(exc).__name__}: {_first_line(exc)}") from None
        return self._factory(**kw)

    def __repr__(self) -> str:
        return f"_EntryPointFactory({self.entry_point.value!r})"


def _plugin_entry_points() -> list[EntryPoint]:
    """The installed ``strata.predictors`` entry points (a seam for tests)."""
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _read_entry_points() -> None:
    """Add the installed plug-ins to the registry, once; a name registered by hand wins."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    for ep in _plugin_entry_points():
        _FACTORIES.setdefault(ep.name, _EntryPointFactory(ep))


def register_predictor(name: str, factory: Callable[..., Predictor], *, replace: bool = False) -> None:
    """Make ``get_predictor(name, **kw)`` return ``factory(**kw)``.

    Raises
    ------
    ValueError
        ``name`` is empty or already taken (unless ``replace``).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"predictor name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory for predictor {name!r} is not callable")
    _read_entry_points()  # so that a plug-in's name counts as taken
    if name in _FACTORIES and not replace:
        raise ValueError(f"a predictor named {name!r} is already registered (pass replace=True)")
    _FACTORIES[name] = factory


def unregister_predictor(name: str) -> None:
    """Forget ``name`` (no error if it is not registered); a plug-in's name stays forgotten."""
    _read_entry_points()
    _FACTORIES.pop(name, None)


def get_predictor(name: str, **kw) -> Predictor:
    """A new predictor from the factory registered as ``name``.

    Raises
    ------
    KeyError
        No predictor of that name; the message lists the known ones.
    """
    _read_entry_points()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown predictor {name!r}; available: {', '.join(_FACTORIES) or 'none'}") from None
    return factory(**kw)


def available_predictors() -> tuple[str, ...]:
    """Registered names: the installed plug-ins, then those registered by hand, in that order."""
    _read_entry_points()
    return tuple(_FACTORIES)


def resolve_predictor(spec=DEFAULT_PREDICTOR, device=None, *, path=None):
    """A predictor from a registered name, a predictor file, or an object: the one way to get one.

    Parameters
    ----------
    spec : str, path or predictor
        A registered name (``"rooms"``); a predictor file (a path object, or
        a string ending in ``.pth`` that is not a registered name), read by
        the :data:`DEFAULT_PREDICTOR`'s factory; or a predictor object,
        returned as it is (the caller has placed it).
    device : optional
        Where a predictor made here is moved (when it has ``to``, as a torch
        module does); default where its factory puts it (the CPU).
    path : path, optional
        A file for the factory named by ``spec`` to read, instead of its
        default weights (a predictor trained with another seed).

    Raises
    ------
    PredictorError
        An unknown name, a factory that reads no files, a missing or bad
        file, or a plug-in that fails to load; the message names the
        predictor or the file, in one line.
    """
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    names = available_predictors()
    if path is None and (isinstance(spec, os.PathLike) or (spec not in names and spec.endswith(FILE_SUFFIX))):
        name, path = DEFAULT_PREDICTOR, spec
    else:
        name = spec
    if name not in names:
        known = ", ".join(names) or "none"
        if path is not None:
            raise PredictorError(f"{path}: no predictor {name!r} to read it (registered: {known})")
        raise PredictorError(f"{name!r} is neither a registered predictor ({known}) "
                             f"nor a predictor file ({FILE_SUFFIX})")
    try:
        predictor = get_predictor(name, **({} if path is None else {"path": os.fspath(path)}))
    except PredictorError:
        raise
    except TypeError as exc:
        if path is not None and "path" in str(exc):
            raise PredictorError(f"{path}: predictor {name!r} does not read files") from None
        raise
    except (StrataError, OSError, ValueError, RuntimeError) as exc:  # a plug-in's own loading error
        where = f"{path}: " if path is not None else ""
        raise PredictorError(f"{where}predictor {name!r} cannot be loaded: {_first_line(exc)}") from None
    to = getattr(predictor, "to", None)
    if device is not None and callable(to):
        predictor = to(device) or predictor
    return predictor


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --------------------------------------------------------------------------- helpers for predictors

class FunctionPredictor:
    """A predictor made of a plain function ``fn(images) -> {name: tensor [n]}``.

    Parameters
    ----------
    name : str
        Registry name.
    semantics : sequence of SemanticSpec
        What ``fn`` scores.
    fn : callable
        Gets images ``[n, 3, input_resolution, input_resolution]`` (resized
        when ``input_resolution`` is set) in [-1, 1].
    input_resolution : int, optional
        The size ``fn`` wants.
    """

    def __init__(self, name: str, semantics: Sequence[SemanticSpec], fn: Callable, input_resolution: int | None = None):
        self.name = name
        self.semantics = tuple(semantics)
        self.input_resolution = input_resolution
        self._fn = fn

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        images = prepare_images(images, self.input_resolution)
        return dict(self._fn(images))

    def __repr__(self) -> str:
        return f"FunctionPredictor({self.name!r}, {len(self.semantics)} semantics)"


def prepare_images(images: torch.Tensor, resolution: int | None, *, clamp: bool = True) -> torch.Tensor:
    """Images as a predictor reads them: checked, clamped, resized.

    Parameters
    ----------
    images : torch.Tensor
        ``[n, 3, H, W]`` in [-1, 1].
    resolution : int or None
        The square size to resize to: an exact area average when it divides
        the size, else bilinear with antialiasing. None keeps the size.
    clamp : bool
        Clamp to [-1, 1]. Off for a generator trained through the predictor,
        which needs gradients from every pixel.

    Raises
    ------
    ValueError
        Not a tensor ``[n, 3, H, W]``.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images [n, 3, H, W], got {shape}")
    images = images.float()
    if clamp:
        images = images.clamp(-1.0, 1.0)
    if resolution is not None and tuple(images.shape[-2:]) != (resolution, resolution):
        h, w = images.shape[-2:]
        if h % resolution == 0 and w % resolution == 0 and h >= resolution and w >= resolution:
            images = F.adaptive_avg_pool2d(images, resolution)          # exact area average
        else:
            images = F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                                   antialias=True, align_corners=False)
    return images
