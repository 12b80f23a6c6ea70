"""A scene: which model, which code, which truncation, which edits.

A :class:`Scene` is the whole state the editor renders and what a recipe
stores (JSON on its own, or in a PNG text chunk). Boundaries travel *inside*
the recipe (vector and metadata), so that opening a saved scene restores its
exact edits even where the boundary files are gone; the model is named by the
sha256 of its weights file and a path hint.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from strata.engine import __version__
from strata.engine.core import limits
from strata.engine.core._safe_pickle import safe_load_npy
from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import RecipeError, SaveError, StrataError

__all__ = ["Code", "ModelRef", "Scene", "RECIPE_KEY", "load_code_npy", "save_wp_npy",
           "read_recipe", "write_recipe_json", "png_bytes_with_recipe"]

RECIPE_KEY = "strata:recipe"  # the PNG text chunk that holds the recipe
RECIPE_FORMAT = "strata-recipe"
SPACES = ("z", "w", "wp")


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def _unb64(text: str, shape, field: str = "data") -> np.ndarray:
    """A float32 array from base64 text, its shape checked before the text is decoded."""
    if not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3 or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s <= limits.MAX_ARRAY_ELEMENTS for s in shape):
        raise RecipeError(f"{field}: shape {str(shape)[:60]} is not a list of 1-3 positive sizes")
    count = math.prod(shape)
    if count > limits.MAX_ARRAY_ELEMENTS:
        raise RecipeError(f"{field}: shape {list(shape)} has {count:,} values, over the limit of "
                          f"{limits.MAX_ARRAY_ELEMENTS:,}")
    if not isinstance(text, str) or len(text) != 4 * math.ceil(4 * count / 3):
        raise RecipeError(f"{field}: does not hold the {count:,} float32 values its shape {list(shape)} needs")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise RecipeError(f"{field}: is not base64 text") from None
    if len(raw) != 4 * count:
        raise RecipeError(f"{field}: does not hold the {count:,} float32 values its shape {list(shape)} needs")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)


def _checksum(code: object, boundaries: object) -> str:
    """sha256 of the code and the boundaries a recipe carries, as JSON in one canonical spelling."""
    text = json.dumps({"code": code, "boundaries": boundaries}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


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
        if self.seed is not None:
            object.__setattr__(self, "seed", limits.check_seed(self.seed))
        if self.array is not None:
            arr = np.array(self.array, dtype=np.float32, copy=True)
            if arr.ndim == (2 if self.space == "wp" else 1):
                arr = arr[None]
            want = 3 if self.space == "wp" else 2
            if arr.ndim != want or arr.shape[0] != 1:
                raise ValueError(f"a {self.space} code must be [1, ...] with {want} dims, got {list(arr.shape)}")
            limits.check_code_values(arr, ValueError, f"{self.space} code")
            arr.flags.writeable = False
            object.__setattr__(self, "array", arr)

    @classmethod
    def from_seed(cls, seed: int) -> Code:
        return cls("z", limits.check_seed(seed), None)

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
        if not isinstance(d, dict):
            raise RecipeError(f"code is a {type(d).__name__}, not a mapping")
        if d.get("seed") is not None:
            return cls.from_seed(limits.check_seed(d["seed"], RecipeError, "code seed"))
        space = d.get("space")
        if space not in SPACES:
            raise RecipeError(f"code space must be one of {', '.join(SPACES)}, got {str(space)[:20]!r}")
        try:
            return cls(space, None, _unb64(d.get("data"), d.get("shape"), "code data"))
        except ValueError as exc:
            raise RecipeError(str(exc)) from None


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
        object.__setattr__(self, "psi", limits.check_psi(self.psi))
        if self.class_index is not None:
            object.__setattr__(self, "class_index", limits.check_class(self.class_index))
        if self.input_transform is not None:
            tr = limits.check_transform(self.input_transform)
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
        code = self.code.to_dict()
        return {
            "format": RECIPE_FORMAT, "version": 1, "app_version": __version__,
            "model": self.model.to_dict() if self.model else None,
            "code": code, "truncation_psi": self.psi,
            "edits": [e.to_dict() for e in self.edits],
            "boundaries": boundaries,
            # What the recipe carries (code, boundary vectors) is checked against this when read.
            "checksum": _checksum(code, boundaries),
            # Only where a model has classes, so that other recipes stay as they were.
            **({"class": self.class_index} if self.class_index is not None else {}),
            **({"input_transform": list(self.input_transform)} if self.input_transform is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "recipe") -> Scene:
        if not isinstance(d, dict) or d.get("format") != RECIPE_FORMAT:
            raise RecipeError(f"{source}: not a Strata recipe")
        try:
            version = d.get("version", 1)
            if not isinstance(version, int) or isinstance(version, bool):
                raise RecipeError(f"version must be a whole number, got {str(version)[:20]!r}")
            if version > 1:
                raise RecipeError(f"recipe version {version} is newer than this Strata reads")
            if "checksum" in d and d["checksum"] != _checksum(d.get("code"), d.get("boundaries", [])):
                raise RecipeError("the code or boundaries do not match the recipe's checksum "
                                  "(the file was changed or damaged)")
            for key, kind in (("boundaries", list), ("edits", list)):
                if not isinstance(d.get(key, []), kind):
                    raise RecipeError(f"'{key}' is a {type(d[key]).__name__}, not a list")
            by_fp = {}
            for i, entry in enumerate(d.get("boundaries", [])):
                if not isinstance(entry, dict) or not isinstance(entry.get("meta"), dict):
                    raise RecipeError(f"boundaries[{i}] is not a boundary record")
                meta = entry["meta"]
                b = Boundary.from_dict(meta, _unb64(entry.get("vector"), meta.get("shape"),
                                                    f"boundaries[{i}] vector"), source=source)
                by_fp[b.fingerprint] = b
            edits = []
            for e in d.get("edits", []):
                if not isinstance(e, dict):
                    raise RecipeError("an edit is not a mapping")
                fp = e.get("boundary_fingerprint")
                if fp not in by_fp:
                    raise RecipeError(f"{source}: edit on {e.get('boundary')!r} has no boundary in the recipe")
                edits.append(Edit.from_dict(e, by_fp[fp]))
            if d.get("model") is not None and not isinstance(d["model"], dict):
                raise RecipeError(f"'model' is a {type(d['model']).__name__}, not a mapping")
            return cls(model=ModelRef.from_dict(d["model"]) if d.get("model") else None,
                       code=Code.from_dict(d.get("code")),
                       psi=limits.check_psi(d.get("truncation_psi", 1.0), RecipeError, "truncation_psi"),
                       edits=tuple(edits),
                       class_index=None if d.get("class") is None else limits.check_class(d["class"], RecipeError),
                       input_transform=None if d.get("input_transform") is None
                       else limits.check_transform(d["input_transform"], RecipeError))
        except StrataError as exc:
            raise RecipeError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None
        except ValueError as exc:
            raise RecipeError(f"{source}: {exc}") from None
        except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as exc:
            raise RecipeError(f"{source}: malformed recipe ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- files


def _recipe_text(scene: Scene, path, **dumps) -> str:
    text = json.dumps(scene.to_dict(), **dumps)
    if len(text) > limits.MAX_JSON_CHARS:
        # Refused here, so that nothing is written that Strata would refuse to read.
        raise SaveError(f"Could not save {path}: the recipe is {limits.human_bytes(len(text))}, over the "
                        f"{limits.human_bytes(limits.MAX_JSON_CHARS)} a recipe may hold (fewer boundary rows "
                        "would fit)")
    return text


def recipe_json(scene: Scene, source: str = "recipe") -> str:
    """The recipe as the JSON text a ``.json`` file holds (also what Copy recipe puts on the clipboard)."""
    return _recipe_text(scene, source, indent=1)


def write_recipe_json(scene: Scene, path: str | Path) -> None:
    atomic_write_bytes(Path(path), recipe_json(scene, path).encode("utf-8"))


def png_bytes_with_recipe(image: np.ndarray, scene: Scene, *, upscale: int = 1) -> bytes:
    """PNG bytes of a uint8 HxWx3 image with the scene's recipe in a compressed iTXt chunk.

    Raises
    ------
    SaveError
        The recipe is over :data:`~strata.engine.core.limits.MAX_JSON_CHARS`,
        or the upscaled image over the output limit.
    """
    from PIL import Image, PngImagePlugin

    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    upscale = limits.check_upscale(upscale, SaveError, side=max(img.width, img.height), field="upscale")
    if upscale > 1:
        # Nearest neighbour: an upscaled scene stays as crisp as the editor shows it.
        img = img.resize((img.width * upscale, img.height * upscale), Image.NEAREST)
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_KEY, _recipe_text(scene, "the PNG"), zip=True)
    info.add_text("Software", f"Strata {__version__}")
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _inflate(data: bytes, source) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limits.MAX_JSON_CHARS + 1)
    except zlib.error as exc:
        raise RecipeError(f"{source}: damaged PNG (its recipe chunk does not decompress: {exc})") from None
    if len(out) > limits.MAX_JSON_CHARS:
        raise RecipeError(f"{source}: the PNG's recipe is over the "
                          f"{limits.human_bytes(limits.MAX_JSON_CHARS)} limit")
    if not d.eof:
        raise RecipeError(f"{source}: damaged PNG (its recipe chunk is cut short)")
    return out


def _png_recipe(data: bytes, source) -> str | None:
    """The text of the PNG's ``strata:recipe`` chunk (tEXt, zTXt or iTXt), or None.

    Only the chunk layout is walked (lengths, types, the recipe chunk's CRC);
    the pixels are never decoded, so an image's size cannot exhaust memory.
    """
    key = RECIPE_KEY.encode("latin1")
    pos = len(_PNG_MAGIC)
    while pos < len(data):
        if pos + 8 > len(data):
            raise RecipeError(f"{source}: truncated PNG (a chunk header is cut short)")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise RecipeError(f"{source}: truncated PNG (chunk {ctype.decode('latin1')!r} is cut short)")
        body = data[pos + 8:pos + 8 + length]
        if ctype in (b"tEXt", b"zTXt", b"iTXt") and body.partition(b"\0")[0] == key:
            (crc,) = struct.unpack(">I", data[end - 4:end])
            if zlib.crc32(ctype + body) != crc:
                raise RecipeError(f"{source}: damaged PNG (its recipe chunk fails its checksum)")
            rest = body.partition(b"\0")[2]
            if ctype == b"tEXt":
                return rest.decode("latin1")
            if ctype == b"zTXt":
                return _inflate(rest[1:], source).decode("latin1")
            if len(rest) < 2:
                raise RecipeError(f"{source}: damaged PNG (its recipe chunk is cut short)")
            compressed, text = rest[0], rest[2:].split(b"\0", 2)
            if len(text) < 3:
                raise RecipeError(f"{source}: damaged PNG (its recipe chunk is malformed)")
            raw = _inflate(text[2], source) if compressed else text[2]
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RecipeError(f"{source}: damaged PNG (its recipe is not UTF-8 text)") from None
        if ctype == b"IEND":
            break
        pos = end
    return None


def read_recipe(path: str | Path) -> Scene:
    """A scene from a recipe JSON or from a PNG saved by Strata.

    The file goes through :mod:`strata.engine.core.limits` (a regular file
    within the recipe size limit; JSON within its length and depth limits).

    Raises
    ------
    RecipeError
        One line naming the file and what is wrong.
    """
    path = Path(path)
    data = limits.read_bytes(path, "recipe", RecipeError)
    if data.startswith(_PNG_MAGIC):
        text = _png_recipe(data, path)
        if text is None:
            raise RecipeError(f"{path}: this PNG holds no Strata recipe (it was not saved by Strata)")
    elif data.startswith(b"\x89PNG"):
        raise RecipeError(f"{path}: damaged PNG (its signature is wrong)")
    else:
        text = data
    parsed = limits.parse_json(text, path, RecipeError, what="recipe")
    return Scene.from_dict(parsed, source=str(path))


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
    arr = safe_load_npy(path, kind="code", error=RecipeError)
    if not isinstance(arr, np.ndarray) or arr.dtype == object or not np.issubdtype(arr.dtype, np.number) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise RecipeError(f"{path}: not an array of real numbers")
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
        with np.errstate(over="ignore", invalid="ignore"):
            return Code(space, None, arr.astype(np.float32))
    except ValueError as exc:
        raise RecipeError(f"{path}: {exc}") from None


def save_wp_npy(wp: np.ndarray, path: str | Path) -> None:
    """Write a ``[1, L, w_dim]`` float32 code as HiGAN writes its ``wp.npy``."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(wp, dtype=np.float32).reshape(1, *wp.shape[-2:]), allow_pickle=False)
    atomic_write_bytes(Path(path), buf.getvalue())
