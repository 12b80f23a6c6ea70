"""A scene: which model, which code, which truncation, which edits.

A :class:`Scene` is the whole state the editor renders and what a recipe
stores (JSON on its own, or in a PNG text chunk). Boundaries travel *inside*
the recipe (vector and metadata), so that opening a saved scene restores its
exact edits even where the boundary files are gone; the model is named by the
sha256 of its weights file and a path hint.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from strata.engine import __version__
from strata.engine.core._safe_pickle import safe_load_npy
from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import BoundaryError, RecipeError, StrataError

__all__ = ["Code", "ModelRef", "Scene", "RECIPE_KEY", "load_code_npy", "save_wp_npy",
           "read_recipe", "write_recipe_json", "png_bytes_with_recipe"]

RECIPE_KEY = "strata:recipe"  # the PNG text chunk that holds the recipe
RECIPE_FORMAT = "strata-recipe"
SPACES = ("z", "w", "wp")


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def _unb64(text: str, shape) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return arr.reshape([int(s) for s in shape])


@dataclass(frozen=True, eq=False)
class Code:
    """A latent code: a seed (drawn in Z) or an explicit array in Z, W or W+.

    ``array`` is ``[1, dim]`` for ``z`` and ``w``, ``[1, L, dim]`` for ``wp``.
    A seed draws ``z = RandomState(seed).randn(1, z_dim)``, the same on every
    machine.
    """

    space: str = "z"
    seed: int | None = 0
    array: np.ndarray | None = None

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"code space must be one of {SPACES}, got {self.space!r}")
        if (self.seed is None) == (self.array is None):
            raise ValueError("a code is either a seed or an array")
        if self.seed is not None and self.space != "z":
            raise ValueError("a seed draws a z code")
        if self.array is not None:
            arr = np.array(self.array, dtype=np.float32, copy=True)
            if arr.ndim == (2 if self.space == "wp" else 1):
                arr = arr[None]
            want = 3 if self.space == "wp" else 2
            if arr.ndim != want or arr.shape[0] != 1:
                raise ValueError(f"a {self.space} code must be [1, ...] with {want} dims, got {list(arr.shape)}")
            if not np.all(np.isfinite(arr)):
                raise ValueError("code holds NaN or infinite values")
            arr.flags.writeable = False
            object.__setattr__(self, "array", arr)

    @classmethod
    def from_seed(cls, seed: int) -> Code:
        return cls("z", int(seed), None)

    def z(self, z_dim: int) -> np.ndarray:
        """The z code (only for ``space == 'z'``) as float32 ``[1, z_dim]``."""
        if self.seed is not None:
            return np.random.RandomState(self.seed % 2**32).randn(1, z_dim).astype(np.float32)
        return self.array

    def key(self) -> tuple:
        """Identity for caching the mapping output."""
        if self.seed is not None:
            return ("seed", self.seed)
        return (self.space, self.array.shape, self.array.tobytes())

    def describe(self) -> str:
        if self.seed is not None:
            return f"seed {self.seed}"
        return f"imported {self.space} code"

    def to_dict(self) -> dict:
        if self.seed is not None:
            return {"space": "z", "seed": self.seed}
        return {"space": self.space, "shape": list(self.array.shape), "data": _b64(self.array)}

    @classmethod
    def from_dict(cls, d: dict) -> Code:
        if d.get("seed") is not None:
            return cls.from_seed(int(d["seed"]))
        return cls(d["space"], None, _unb64(d["data"], d["shape"]))


@dataclass(frozen=True)
class ModelRef:
    """Names a model by the sha256 of its weights; ``path`` is a hint where to find it."""

    fingerprint: str
    path: str = ""
    name: str = ""

    def to_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "path": self.path, "name": self.name}

    @classmethod
    def from_dict(cls, d: dict) -> ModelRef:
        return cls(str(d["fingerprint"]), str(d.get("path", "")), str(d.get("name", "")))


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything that decides the pixels: model, code, truncation, edits.

    ``edits`` holds every row of the layer-by-semantic panel, at zero
    strength too, so that a restored scene shows the same sliders.
    """

    model: ModelRef | None = None
    code: Code = field(default_factory=Code)
    psi: float = 0.7
    edits: tuple[Edit, ...] = ()
    class_index: int | None = None  # the class a class-conditional model draws (None: unconditional)
    # StyleGAN3's input transform (translate x, y in image widths; rotate in degrees); None: identity.
    input_transform: tuple[float, float, float] | None = None

    def __post_init__(self):
        if not math.isfinite(float(self.psi)):
            raise ValueError(f"truncation psi must be finite, got {self.psi!r}")
        object.__setattr__(self, "psi", float(self.psi))
        if self.class_index is not None:
            if isinstance(self.class_index, bool) or int(self.class_index) != self.class_index \
                    or self.class_index < 0:
                raise ValueError(f"class must be a whole number >= 0, got {self.class_index!r}")
            object.__setattr__(self, "class_index", int(self.class_index))
        if self.input_transform is not None:
            tr = tuple(float(v) for v in self.input_transform)
            if len(tr) != 3 or not all(math.isfinite(v) for v in tr):
                raise ValueError(f"input transform must be three finite numbers (x, y, degrees), "
                                 f"got {self.input_transform!r}")
            object.__setattr__(self, "input_transform", None if tr == (0.0, 0.0, 0.0) else tr)
        object.__setattr__(self, "edits", tuple(self.edits))

    def with_(self, **changes) -> Scene:
        return replace(self, **changes)

    def with_edit(self, index: int, *, strength: float | None = None,
                  layers: tuple[int, int] | None = None) -> Scene:
        e = self.edits[index]
        new = Edit(e.boundary, e.strength if strength is None else strength,
                   e.layers if layers is None else tuple(layers))
        return replace(self, edits=self.edits[:index] + (new,) + self.edits[index + 1:])

    @property
    def active_edits(self) -> tuple[Edit, ...]:
        return tuple(e for e in self.edits if e.strength != 0.0)

    def same_as(self, other: Scene | None) -> bool:
        """Equal in everything that decides the pixels and the sliders."""
        return other is not None and json.dumps(self.to_dict(), sort_keys=True) == json.dumps(
            other.to_dict(), sort_keys=True)

    def to_dict(self) -> dict:
        boundaries, seen = [], set()
        for e in self.edits:
            b = e.boundary
            if b.fingerprint not in seen:
                seen.add(b.fingerprint)
                boundaries.append({"meta": b.to_dict(), "vector": _b64(b.vector)})
        return {
            "format": RECIPE_FORMAT, "version": 1, "app_version": __version__,
            "model": self.model.to_dict() if self.model else None,
            "code": self.code.to_dict(), "truncation_psi": self.psi,
            "edits": [e.to_dict() for e in self.edits],
            "boundaries": boundaries,
            # Only where a model has classes, so that other recipes stay as they were.
            **({"class": self.class_index} if self.class_index is not None else {}),
            **({"input_transform": list(self.input_transform)} if self.input_transform is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "recipe") -> Scene:
        if not isinstance(d, dict) or d.get("format") != RECIPE_FORMAT:
            raise RecipeError(f"{source}: not a Strata recipe")
        try:
            if int(d.get("version", 1)) > 1:
                raise RecipeError(f"{source}: recipe version {d.get('version')} is newer than this Strata reads")
            by_fp = {}
            for entry in d.get("boundaries", []):
                meta = entry["meta"]
                b = Boundary.from_dict(meta, _unb64(entry["vector"], meta["shape"]), source=source)
                by_fp[b.fingerprint] = b
            edits = []
            for e in d.get("edits", []):
                fp = e.get("boundary_fingerprint")
                if fp not in by_fp:
                    raise RecipeError(f"{source}: edit on {e.get('boundary')!r} has no boundary in the recipe")
                edits.append(Edit.from_dict(e, by_fp[fp]))
            return cls(model=ModelRef.from_dict(d["model"]) if d.get("model") else None,
                       code=Code.from_dict(d["code"]), psi=float(d.get("truncation_psi", 1.0)),
                       edits=tuple(edits), class_index=d.get("class"), input_transform=d.get("input_transform"))
        except StrataError as exc:
            raise RecipeError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise RecipeError(f"{source}: malformed recipe ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- files


def write_recipe_json(scene: Scene, path: str | Path) -> None:
    atomic_write_bytes(Path(path), json.dumps(scene.to_dict(), indent=1).encode("utf-8"))


def png_bytes_with_recipe(image: np.ndarray, scene: Scene, *, upscale: int = 1) -> bytes:
    """PNG bytes of a uint8 HxWx3 image with the scene's recipe in an iTXt chunk."""
    from PIL import Image, PngImagePlugin

    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    if upscale > 1:
        # Nearest neighbour: an upscaled scene stays as crisp as the editor shows it.
        img = img.resize((img.width * upscale, img.height * upscale), Image.NEAREST)
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_KEY, json.dumps(scene.to_dict()), zip=True)
    info.add_text("Software", f"Strata {__version__}")
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def read_recipe(path: str | Path) -> Scene:
    """A scene from a recipe JSON or from a PNG saved by Strata."""
    path = Path(path)
    try:
        head = path.read_bytes()[:8]
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head.startswith(b"\x89PNG"):
        from PIL import Image
        try:
            with Image.open(path) as img:
                img.load()
                text = img.text.get(RECIPE_KEY) if hasattr(img, "text") else None
        except Exception as exc:
            raise RecipeError(f"{path}: not a readable PNG ({exc})") from None
        if text is None:
            raise RecipeError(f"{path}: this PNG holds no Strata recipe (it was not saved by Strata)")
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecipeError(f"{path}: not a recipe ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: recipe is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return Scene.from_dict(data, source=str(path))


def code_shape(space: str, *, z_dim: int, w_dim: int, num_layers: int) -> tuple[int, ...]:
    """The array shape of a code in ``space`` for a model with these dimensions."""
    return {"z": (1, z_dim), "w": (1, w_dim), "wp": (1, num_layers, w_dim)}[space]


def code_mismatch(code: Code, *, z_dim: int, w_dim: int, num_layers: int) -> str | None:
    """Why ``code`` does not fit a model with these dimensions, or ``None`` where it fits.

    The one check of a code's shape against a model: the renderer, the ``.npy``
    import and the editor all ask it, so they agree on what fits.
    """
    if code.seed is not None:
        return None  # a seed draws z at the model's own size
    want = code_shape(code.space, z_dim=z_dim, w_dim=w_dim, num_layers=num_layers)
    if tuple(code.array.shape) == want:
        return None
    return f"the {code.space} code has shape {list(code.array.shape)}, this model takes {list(want)}"


def load_code_npy(path: str | Path, *, z_dim: int, w_dim: int, num_layers: int,
                  space: str | None = None) -> Code:
    """A code from ``.npy``: ``[1, z_dim]`` is z, ``[1, w_dim]`` is w, ``[1, L, w_dim]`` is wp.

    Where z_dim == w_dim, a ``[1, dim]`` array is read as z (as HiGAN's
    default latent space) unless ``space="w"`` says otherwise. Pickled arrays
    are refused.
    """
    path = Path(path)
    try:
        arr = safe_load_npy(path)
    except BoundaryError as exc:
        raise RecipeError(str(exc).replace("boundary file", "code file")) from None
    if not isinstance(arr, np.ndarray) or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise RecipeError(f"{path}: not a numeric array")
    shape = list(arr.shape)
    if arr.ndim == 1:
        arr = arr[None]
    dims = dict(z_dim=z_dim, w_dim=w_dim, num_layers=num_layers)
    fits = {s: arr.shape == code_shape(s, **dims) for s in SPACES}
    if space is not None:
        if space not in fits:
            raise RecipeError(f"{path}: code space must be z, w or wp, not {space!r}")
        if not fits[space]:
            raise RecipeError(f"{path}: code has shape {shape}; a {space} code for this model is "
                              f"{list(code_shape(space, **dims))}")
    else:
        space = next((k for k in ("wp", "z", "w") if fits[k]), None)
    if space is None:
        raise RecipeError(f"{path}: code has shape {shape}; this model takes "
                          + ", ".join(f"{list(code_shape(s, **dims))} ({s})" for s in ("z", "w", "wp")))
    try:
        return Code(space, None, arr.astype(np.float32))
    except ValueError as exc:
        raise RecipeError(f"{path}: {exc}") from None


def save_wp_npy(wp: np.ndarray, path: str | Path) -> None:
    """Write a ``[1, L, w_dim]`` float32 code as HiGAN writes its ``wp.npy``."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(wp, dtype=np.float32).reshape(1, *wp.shape[-2:]), allow_pickle=False)
    atomic_write_bytes(Path(path), buf.getvalue())
