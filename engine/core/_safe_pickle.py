"""Read a ``.npy`` file without ever running code that arrives inside it.

HiGAN ships some boundaries as a ``.npy`` holding a *pickled* dict (an object
array). ``np.load(..., allow_pickle=True)`` would hand that pickle to the
standard unpickler, which calls whatever callable the file names, e.g.
``os.system``. Here the header is parsed first; plain numeric arrays go to
``np.load(..., allow_pickle=False)``, and object arrays go to an unpickler
that can only build NumPy arrays, NumPy dtypes and NumPy scalars. Dicts,
lists, tuples, strings, numbers, ``None`` and booleans need no import at all:
pickle opcodes build them directly.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle

import numpy as np

from strata.engine.core import limits
from strata.engine.core.errors import BoundaryError, StrataError

__all__ = ["safe_load_npy"]


def _multiarray():
    # NumPy 2 moved the C core to ``numpy._core``; importing the old name
    # there only warns, so prefer the new one and fall back for NumPy 1.
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # NumPy < 2
        return importlib.import_module("numpy.core.multiarray")


def _allowed() -> dict[tuple[str, str], object]:
    ma = _multiarray()
    # Each of these only allocates memory or parses a dtype description:
    # ``_reconstruct(ndarray, shape, dtype)`` makes an empty array that
    # ``ndarray.__setstate__`` then fills; ``scalar(dtype, bytes)`` makes a
    # NumPy scalar from its raw bytes.
    return {
        ("numpy.core.multiarray", "_reconstruct"): ma._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): ma._reconstruct,
        ("numpy.core.multiarray", "scalar"): ma.scalar,
        ("numpy._core.multiarray", "scalar"): ma.scalar,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in ``table`` and refuses every other one.

    The one way Strata reads pickles (boundaries, NVIDIA's and TensorFlow's
    networks): a name outside the table raises ``refuse(module, name)`` before
    anything is imported, so nothing a file names can run.
    """

    def __init__(self, file, *, table: dict, refuse, encoding: str = "latin1"):
        # latin1 lets NumPy arrays pickled by Python 2 decode their raw
        # bytes (NumPy's own advice); Python 3 pickles are not affected.
        super().__init__(file, encoding=encoding)
        self._table = table
        self._refuse = refuse

    def find_class(self, module: str, name: str):
        try:
            return self._table[(module, name)]
        except KeyError:
            raise self._refuse(module, name) from None


def _boundary_unpickler(file, path, error=BoundaryError) -> RestrictedUnpickler:
    def refuse(module: str, name: str) -> BoundaryError:
        return error(f"{path}: refused to load (hostile pickle): the file's pickle asks for "
                     f"'{module}.{name}', which a boundary file never needs; nothing was executed")

    return RestrictedUnpickler(file, table=_allowed(), refuse=refuse)


def safe_load_npy(path: str | os.PathLike, *, kind: str = "boundary",
                  error: type[StrataError] = BoundaryError) -> np.ndarray | object:
    """Load a ``.npy`` file, refusing any pickle that would import code.

    The file goes through :mod:`strata.engine.core.limits`: a regular file
    within the size limit for ``kind``, a header parsed without NumPy's
    tokenizer, an element count within the limit, checked before anything is
    allocated.

    Parameters
    ----------
    path : str or path-like
        The ``.npy`` file.
    kind : str
        ``"boundary"`` or ``"code"``: which size limit applies, and how the
        messages name the file.
    error : StrataError subclass
        What a refusal raises.

    Returns
    -------
    numpy.ndarray or object
        A numeric array as stored; for an object array, the unpickled array,
        or its single item when the array is 0-d (HiGAN's pickled dict).

    Raises
    ------
    BoundaryError (or ``error``)
        The file is missing, not a regular file, too big, truncated, not a
        ``.npy`` file, or its pickle names anything other than NumPy
        array/dtype/scalar constructors. In that last case nothing from the
        file has been called.
    """
    path = str(path)
    with limits.open_regular(path, kind, error) as fp:
        size = os.fstat(fp.fileno()).st_size
        header = limits.read_npy_header(fp, path, error, file_size=size)
        try:
            payload = fp.read(size - header.data_offset)
        except OSError as exc:
            raise error(f"{path}: could not be read ({exc.strerror or exc})") from None

    if not header.dtype.hasobject:
        dtype = header.dtype
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise error(f"{path}: holds {dtype} data, not numbers")
        count = header.count
        arr = np.frombuffer(payload, dtype=dtype, count=count)
        order = "F" if header.fortran_order else "C"
        return arr.reshape(header.shape, order=order).copy(order="C")

    try:
        obj = _boundary_unpickler(io.BytesIO(payload), path, error).load()
    except StrataError:
        raise
    except Exception as exc:  # any malformed pickle: truncation, bad opcodes, bad state
        raise error(
            f"{path}: damaged or truncated .npy file (its pickled data could not be read: "
            f"{type(exc).__name__}: {exc})"
        ) from None
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        return obj.item()
    return obj
