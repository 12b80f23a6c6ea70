"""A .npy from the internet is read without running code that arrives inside it."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from strata.engine.core._safe_pickle import safe_load_npy
from strata.engine.core.errors import BoundaryError
from tests._reference import SHARED_FIXTURES

BEDROOM = SHARED_FIXTURES / "higan_boundaries" / "stylegan_bedroom"


def _npy_bytes(header: dict, payload: bytes) -> bytes:
    """A version 1.0 .npy written by hand: magic, padded header dict, payload."""
    text = repr(header)
    # The header ends in a newline and is padded so the data starts on a
    # 64-byte boundary (10 = magic 6 + version 2 + length 2).
    pad = -(10 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1") + payload


def _object_npy(payload: bytes) -> bytes:
    return _npy_bytes({"descr": "|O", "fortran_order": False, "shape": ()}, payload)


class _RunShell:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _OpenFile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (str(self.marker), "w"))


def _globals_named(payload: bytes) -> list[str]:
    """Every 'module name' a pickle imports, as the unpickler would see it."""
    names, strings = [], []
    for op, arg, _ in pickletools.genops(payload):
        if op.name == "GLOBAL":
            names.append(arg)
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.append(" ".join(strings[-2:]))
    return names


def test_reads_higan_pickled_dict():
    obj = safe_load_npy(BEDROOM / "wood_boundary.npy")
    assert isinstance(obj, dict)
    assert obj["meta_data"] == {"type": "attribute", "manipulate_layers": "6-11"}
    assert obj["boundary"].dtype == np.float64
    assert obj["boundary"].shape == (1, 512)
    assert np.linalg.norm(obj["boundary"]) == pytest.approx(1.0, abs=1e-6)


def test_reads_plain_float_array():
    arr = safe_load_npy(BEDROOM / "view_boundary.npy")
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.float32 and arr.shape == (1, 512)
    assert np.linalg.norm(arr) == pytest.approx(1.0, abs=1e-5)


def test_reads_numpy_written_object_array_of_plain_values(tmp_path):
    # What np.save writes for a dict of arrays, scalars and plain containers
    # (dtype, scalar and _reconstruct globals) must come back intact.
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(2.5),
             "i": np.int64(-3), "t": (1, "x", None, True), "l": [1.5, "y"], "b": b"raw"}
    holder = np.empty((), dtype=object)
    holder[()] = value
    path = tmp_path / "dict.npy"
    np.save(path, holder, allow_pickle=True)  # writing is safe; only reading runs code
    got = safe_load_npy(path)
    assert set(got) == set(value)
    np.testing.assert_array_equal(got["a"], value["a"])
    assert got["s"] == 2.5 and got["i"] == -3
    assert got["t"] == (1, "x", None, True) and got["l"] == [1.5, "y"] and got["b"] == b"raw"


def test_one_dimensional_object_array_is_returned_as_array(tmp_path):
    arr = np.array([np.zeros(2), "name"], dtype=object)
    np.save(tmp_path / "o.npy", arr, allow_pickle=True)
    got = safe_load_npy(tmp_path / "o.npy")
    assert isinstance(got, np.ndarray) and got.shape == (2,) and got[1] == "name"


def test_refuses_pickle_that_would_run_a_shell_command(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunShell(marker), protocol=3)
    # The payload really does name os.system (posix.system / nt.system).
    assert any(n.endswith(" system") for n in _globals_named(payload))
    path = tmp_path / "evil_boundary.npy"
    path.write_bytes(_object_npy(payload))

    with pytest.raises(BoundaryError) as info:
        safe_load_npy(path)
    msg = str(info.value)
    assert str(path) in msg and "refused" in msg and "system" in msg and "nothing was executed" in msg
    assert not marker.exists()


def _open_payload(target: Path) -> bytes:
    """A hand-made protocol-2 pickle of ``builtins.open(target, "w")``."""
    name = str(target).encode()
    return (b"\x80\x02cbuiltins\nopen\n"                      # PROTO 2, GLOBAL
            + b"X" + len(name).to_bytes(4, "little") + name   # BINUNICODE path
            + b"X\x01\x00\x00\x00w"                           # BINUNICODE "w"
            + b"\x86R.")                                      # TUPLE2, REDUCE, STOP


def test_refuses_pickle_that_would_open_a_file(tmp_path):
    # Control: the standard unpickler does create the file from this payload.
    control = tmp_path / "control"
    pickle.loads(_open_payload(control)).close()
    assert control.exists()

    marker = tmp_path / "pwned2"
    path = tmp_path / "evil.npy"
    path.write_bytes(_object_npy(_open_payload(marker)))
    with pytest.raises(BoundaryError, match=r"refused to load.*'builtins\.open'") as info:
        safe_load_npy(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_refuses_open_via_reduce_class(tmp_path):
    marker = tmp_path / "pwned3"
    path = tmp_path / "evil.npy"
    path.write_bytes(_object_npy(pickle.dumps(_OpenFile(marker), protocol=4)))
    with pytest.raises(BoundaryError, match="refused to load"):
        safe_load_npy(path)
    assert not marker.exists()


def test_refuses_code_hidden_inside_an_allowed_array(tmp_path):
    # A real object array whose element is the payload: the outer globals
    # are allowed, the inner one is not.
    marker = tmp_path / "pwned4"
    holder = np.empty((), dtype=object)
    holder[()] = {"boundary": np.zeros((1, 4)), "meta_data": _RunShell(marker)}
    buf = io.BytesIO()
    np.save(buf, holder, allow_pickle=True)
    path = tmp_path / "nested.npy"
    path.write_bytes(buf.getvalue())
    with pytest.raises(BoundaryError, match="refused to load"):
        safe_load_npy(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["wood_boundary.npy", "view_boundary.npy"])
def test_truncated_file_names_the_path(tmp_path, name):
    data = (BEDROOM / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BoundaryError, match="truncated") as info:
        safe_load_npy(path)
    assert str(path) in str(info.value)


def test_truncated_header_and_junk_name_the_path(tmp_path):
    short = tmp_path / "short.npy"
    short.write_bytes((BEDROOM / "wood_boundary.npy").read_bytes()[:20])
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"this is not numpy at all")
    for path in (short, junk):
        with pytest.raises(BoundaryError) as info:
            safe_load_npy(path)
        assert str(path) in str(info.value)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(BoundaryError, match="no such file") as info:
        safe_load_npy(tmp_path / "absent.npy")
    assert "absent.npy" in str(info.value)
