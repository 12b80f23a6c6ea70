"""The one boundary for untrusted input: every limit on what Strata reads, in one place.

Every file Strata opens (models, boundaries, codes, recipes in JSON or PNG,
hierarchy reports) is read through this module. It checks, before anything is
allocated or parsed:

- that the path is a regular file (never a FIFO, a device or a socket: the
  file is opened with ``O_NONBLOCK`` and checked with ``fstat``, so a FIFO
  never blocks), and no bigger than :data:`MAX_FILE_BYTES` for its kind;
- that JSON is no longer than :data:`MAX_JSON_CHARS`, nests no deeper than
  :data:`MAX_JSON_DEPTH`, spells no number with more than
  :data:`MAX_NUMBER_DIGITS` digits and holds no ``NaN`` / ``Infinity``;
- that a ``.npy`` header (parsed here, never by NumPy's tokenizer) is well
  formed, names a plain dtype, and claims no more than
  :data:`MAX_ARRAY_ELEMENTS` elements and no more bytes than the file holds;
- that the numbers of a scene lie in the ranges below (seeds, truncation psi,
  strengths, layer indices, codes, classes, input transforms, upscale factors).

Every refusal is the ``error`` class the caller passes (a
:class:`~strata.engine.core.errors.StrataError`), one line naming the file and
the limit or field at fault. docs/formats.md states the same numbers.

Public API
----------
MAX_FILE_BYTES, MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, MAX_ARRAY_ELEMENTS,
SEED_MIN, SEED_MAX, PSI_MIN, PSI_MAX, STRENGTH_MAX, LAYER_MAX, CODE_ABS_MAX,
CLASS_MAX, TRANSFORM_ABS_MAX, UPSCALE_MAX, OUTPUT_SIDE_MAX
    The limits.
open_regular(path, kind, error) -> file
read_bytes(path, kind, error) -> bytes
parse_json(text, source, error) -> object
read_json_file(path, kind, error) -> object
read_npy_header(fp, source, error, *, file_size, max_elements) -> NpyHeader
check_seed / check_psi / check_strength / check_layer / check_code_values / check_class /
check_transform / check_upscale
"""

from __future__ import annotations

import ast
import errno
import json
import math
import os
import re
import stat
import struct
from dataclasses import dataclass
from typing import IO

import numpy as np

from strata.engine.core.errors import StrataError

__all__ = [
    "MAX_FILE_BYTES", "MAX_JSON_CHARS", "MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "MAX_ARRAY_ELEMENTS",
    "MAX_NPY_HEADER", "SEED_MIN", "SEED_MAX", "PSI_MIN", "PSI_MAX", "STRENGTH_MAX", "LAYER_MAX",
    "CODE_ABS_MAX", "CLASS_MAX", "TRANSFORM_ABS_MAX", "UPSCALE_MAX", "OUTPUT_SIDE_MAX",
    "NpyHeader", "open_regular", "read_bytes", "check_regular", "parse_json", "read_json_file", "read_npy_header",
    "check_seed", "check_psi", "check_strength", "check_layer", "check_code_values", "check_class",
    "check_transform", "check_upscale", "human_bytes",
]

MiB = 1 << 20
GiB = 1 << 30

# The largest file of each kind Strata opens. NVIDIA's released StyleGAN2/3
# pickles are 300-400 MB with the discriminator; 4 GiB leaves room for bigger
# networks without letting /dev/zero or a 100 GB file in.
MAX_FILE_BYTES: dict[str, int] = {
    "model": 4 * GiB,
    "boundary": 256 * MiB,  # one direction per layer of a 4096-dim W+: far below this
    "code": 256 * MiB,
    "recipe": 64 * MiB,  # a JSON recipe, or a PNG scene with its recipe (the pixels count too)
    "report": 16 * MiB,  # hierarchy.json
    "journal": 64 * MiB,  # the crash-recovery journal
}

MAX_JSON_CHARS = 32 * MiB  # one recipe's text (a PNG's recipe chunk decompresses to at most this)
MAX_JSON_DEPTH = 64  # a recipe nests 5 deep; a boundary's extra metadata a few more
MAX_NUMBER_DIGITS = 40  # a JSON number longer than this is refused before Python converts it
MAX_NPY_HEADER = 1 << 16  # bytes of a .npy header (NumPy writes < 200)
# Elements of one array in a boundary, code or .npz: W+ of 64 layers x 65,536 dims.
MAX_ARRAY_ELEMENTS = 1 << 22

SEED_MIN, SEED_MAX = 0, 2**32 - 1  # numpy's RandomState takes exactly these
PSI_MIN, PSI_MAX = -2.0, 2.0  # the window's slider runs 0-1.5; beyond +-2 every model draws noise
STRENGTH_MAX = 100.0  # |strength|; the window's sliders run +-5
LAYER_MAX = 1023  # a layer index (a model has 8-18 W+ layers)
CODE_ABS_MAX = 1e4  # |value| in an imported code (z ~ N(0, 1); W entries stay within a few tens)
CLASS_MAX = 2**31 - 1
TRANSFORM_ABS_MAX = 1e4  # |x|, |y| in image widths, |degrees|
UPSCALE_MAX = 16  # strata render --upscale 1-16
OUTPUT_SIDE_MAX = 16384  # pixels on a side of a saved PNG


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


# ------------------------------------------------------------------ files

_WHAT = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _not_regular(mode: int) -> str:
    return _WHAT.get(stat.S_IFMT(mode), "not a regular file")


def check_regular(st: os.stat_result, path, kind: str, error: type[StrataError]) -> int:
    """The file's size, after checking it is a regular file within the limit for ``kind``."""
    if not stat.S_ISREG(st.st_mode):
        what = _not_regular(st.st_mode)
        raise error(f"{path}: is {what}, not a {kind} file; Strata reads regular files only")
    limit = MAX_FILE_BYTES[kind]
    if st.st_size > limit:
        raise error(f"{path}: is {human_bytes(st.st_size)}, over the {human_bytes(limit)} "
                    f"limit for a {kind} file")
    if st.st_size == 0:
        raise error(f"{path}: is empty (0 bytes), not a {kind} file")
    return st.st_size


def open_regular(path, kind: str, error: type[StrataError]) -> IO[bytes]:
    """Open ``path`` for reading as a binary file, refusing anything but a regular file.

    The file is opened with ``O_NONBLOCK`` (a FIFO opens at once instead of
    waiting for a writer) and checked with ``fstat`` on the open descriptor,
    so what is checked is what is read. Raises ``error`` naming the file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {kind} file") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO opened write-only elsewhere
            raise error(f"{path}: is not a regular file; Strata reads regular files only") from None
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        check_regular(os.fstat(fd), path, kind, error)
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # a regular file: reads as usual from here
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, kind: str, error: type[StrataError]) -> bytes:
    """The whole of a regular file of ``kind``, within its size limit."""
    with open_regular(path, kind, error) as fh:
        try:
            data = fh.read(MAX_FILE_BYTES[kind] + 1)
        except OSError as exc:
            raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES[kind]:  # it grew while being read
        raise error(f"{path}: is over the {human_bytes(MAX_FILE_BYTES[kind])} limit for a {kind} file")
    return data


# ------------------------------------------------------------------ JSON

# A JSON string (with escapes); what lies between strings is structure and numbers.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NUMBER_RUN = re.compile(r"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))


def _json_depth(text: str) -> int:
    """How deep brackets nest outside strings, without recursion (a linear scan)."""
    bare = _STRING.sub('""', text)
    raw = np.frombuffer(bare.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if raw.size == 0:
        return 0
    step = ((raw == ord("[")) | (raw == ord("{"))).astype(np.int64) \
        - ((raw == ord("]")) | (raw == ord("}"))).astype(np.int64)
    return int(np.cumsum(step).max(initial=0))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str | bytes, source, error: type[StrataError], *, what: str = "JSON") -> object:
    """``json.loads(text)`` within the limits: length, nesting depth, digits, no NaN/Infinity.

    Raises ``error`` as ``"<source>: <what> ..."``.
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_JSON_CHARS:
            raise error(f"{source}: {what} is {human_bytes(len(text))}, over the "
                        f"{human_bytes(MAX_JSON_CHARS)} limit")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{source}: {what} is not UTF-8 text (byte {exc.start})") from None
    if len(text) > MAX_JSON_CHARS:
        raise error(f"{source}: {what} is {len(text):,} characters, over the {MAX_JSON_CHARS:,} limit")
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{source}: {what} nests {depth} levels deep, over the limit of {MAX_JSON_DEPTH}")
    if _NUMBER_RUN.search(_STRING.sub('""', text)):
        raise error(f"{source}: {what} holds a number of more than {MAX_NUMBER_DIGITS} digits")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: {what} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{source}: {what} is not valid JSON ({exc})") from None


def read_json_file(path, kind: str, error: type[StrataError], *, what: str = "JSON") -> object:
    """A JSON file of ``kind`` read within every limit: regular file, size, length, depth."""
    return parse_json(read_bytes(path, kind, error), path, error, what=what)


# ------------------------------------------------------------------ .npy headers

_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class NpyHeader:
    """A checked ``.npy`` header: shape, order and dtype, and where the data starts."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    data_offset: int  # bytes from the start of the .npy stream

    @property
    def count(self) -> int:
        return math.prod(self.shape)


def read_npy_header(fp: IO[bytes], source, error: type[StrataError], *, file_size: int | None = None,
                    max_elements: int = MAX_ARRAY_ELEMENTS, what: str = ".npy") -> NpyHeader:
    """Parse and check the header of the ``.npy`` stream at ``fp``'s position.

    The header is parsed with :func:`ast.literal_eval` on the decoded text (never
    NumPy's tokenizer, which raises ``tokenize.TokenError`` on a flipped byte).
    The element count is checked against ``max_elements`` and, for plain dtypes,
    the data's size against ``file_size`` (the stream's length), both before
    anything is allocated.
    """
    start = fp.tell()
    magic = fp.read(8)
    if len(magic) < 8 or not magic.startswith(_NPY_MAGIC):
        raise error(f"{source}: not a NumPy {what} file (no .npy magic)")
    major, minor = magic[6], magic[7]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise error(f"{source}: not a readable {what} file (unknown format version {major}.{minor})")
    size_bytes = fp.read(2 if major == 1 else 4)
    if len(size_bytes) < (2 if major == 1 else 4):
        raise error(f"{source}: truncated {what} file (header cut short)")
    (length,) = struct.unpack("<H" if major == 1 else "<I", size_bytes)
    if length > MAX_NPY_HEADER:
        raise error(f"{source}: damaged {what} header (claims {length:,} bytes, over the "
                    f"{MAX_NPY_HEADER:,} limit)")
    raw = fp.read(length)
    if len(raw) < length:
        raise error(f"{source}: truncated {what} file (header cut short)")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin1")
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        raise error(f"{source}: damaged {what} header (not a readable description)") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise error(f"{source}: damaged {what} header (needs exactly descr, fortran_order and shape)")
    shape, fortran = header["shape"], header["fortran_order"]
    if not isinstance(fortran, bool):
        raise error(f"{source}: damaged {what} header (fortran_order is not True or False)")
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise error(f"{source}: damaged {what} header (shape {shape!r} is not a tuple of sizes)")
    try:
        dtype = np.dtype(np.lib.format.descr_to_dtype(header["descr"]))
    except Exception:  # any malformed description
        raise error(f"{source}: damaged {what} header (dtype {str(header['descr'])[:40]!r} "
                    "is not one NumPy knows)") from None
    count = math.prod(shape)
    if count > max_elements:
        raise error(f"{source}: array of shape {list(shape)} has {count:,} elements, over the "
                    f"limit of {max_elements:,}")
    offset = fp.tell() - start
    if file_size is not None and not dtype.hasobject:
        need = offset + count * dtype.itemsize
        if need > file_size:
            raise error(f"{source}: truncated {what} file (its header promises {need:,} bytes, "
                        f"the file holds {file_size:,})")
    return NpyHeader(tuple(shape), fortran, dtype, offset)


# ------------------------------------------------------------------ numbers


def _number(value, field: str, error) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise error(f"{field} must be a number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise error(f"{field} must be a finite number, got {value!r}")
    return v


def _whole(value, field: str, lo: int, hi: int, error) -> int:
    if isinstance(value, bool):
        raise error(f"{field} must be a whole number, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise error(f"{field} must be a whole number, got {value!r}")
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise error(f"{field} must be a whole number, got {type(value).__name__}")
    if not lo <= value <= hi:
        shown = str(int(value)) if abs(int(value)).bit_length() < 128 else "a number that large"
        raise error(f"{field} {shown} is outside {lo} to {hi}")
    return int(value)


def check_seed(value, error=ValueError, field: str = "seed") -> int:
    """A seed: a whole number from :data:`SEED_MIN` to :data:`SEED_MAX`."""
    return _whole(value, field, SEED_MIN, SEED_MAX, error)


def check_psi(value, error=ValueError, field: str = "truncation psi") -> float:
    """Truncation psi: a finite number from :data:`PSI_MIN` to :data:`PSI_MAX`."""
    v = _number(value, field, error)
    if not PSI_MIN <= v <= PSI_MAX:
        raise error(f"{field} {v:g} is outside {PSI_MIN:g} to {PSI_MAX:g}")
    return v


def check_strength(value, error=ValueError, field: str = "strength") -> float:
    """An edit's strength: finite, at most :data:`STRENGTH_MAX` either way."""
    v = _number(value, field, error)
    if abs(v) > STRENGTH_MAX:
        raise error(f"{field} {v:g} is outside -{STRENGTH_MAX:g} to {STRENGTH_MAX:g}")
    return v


def check_layer(value, error=ValueError, field: str = "layer") -> int:
    """A W+ layer index: 0 to :data:`LAYER_MAX`."""
    return _whole(value, field, 0, LAYER_MAX, error)


def check_class(value, error=ValueError, field: str = "class") -> int:
    return _whole(value, field, 0, CLASS_MAX, error)


def check_transform(values, error=ValueError, field: str = "input transform") -> tuple[float, float, float]:
    try:
        x, y, deg = values
    except (TypeError, ValueError):
        raise error(f"{field} must be three numbers (x, y, degrees), got {values!r}") from None
    out = tuple(_number(v, field, error) for v in (x, y, deg))
    if any(abs(v) > TRANSFORM_ABS_MAX for v in out):
        raise error(f"{field} {list(out)} is outside -{TRANSFORM_ABS_MAX:g} to {TRANSFORM_ABS_MAX:g}")
    return out


def check_code_values(arr: np.ndarray, error=ValueError, field: str = "code") -> None:
    """A code's values: finite, at most :data:`CODE_ABS_MAX` in size."""
    if arr.size > MAX_ARRAY_ELEMENTS:
        raise error(f"{field} has {arr.size:,} values, over the limit of {MAX_ARRAY_ELEMENTS:,}")
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(arr)):
            raise error(f"{field} holds NaN or infinite values")
        biggest = float(np.max(np.abs(arr))) if arr.size else 0.0
    if biggest > CODE_ABS_MAX:
        raise error(f"{field} holds a value of {biggest:g}, outside -{CODE_ABS_MAX:g} to {CODE_ABS_MAX:g}")


def check_upscale(value, error=ValueError, *, side: int | None = None, field: str = "--upscale") -> int:
    """An upscale factor from 1 to :data:`UPSCALE_MAX`; with ``side``, the result stays within
    :data:`OUTPUT_SIDE_MAX` pixels."""
    factor = _whole(value, field, 1, UPSCALE_MAX, error)
    if side is not None and side * factor > OUTPUT_SIDE_MAX:
        raise error(f"{field} {factor}: a {side}px image would be {side * factor}px, over the "
                    f"{OUTPUT_SIDE_MAX}px limit")
    return factor
