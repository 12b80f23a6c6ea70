"""Saving never leaves a half-written file or a stray temporary behind."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from strata.engine.core import atomic
from strata.engine.core.atomic import atomic_open, atomic_write_bytes
from strata.engine.core.errors import SaveError

OLD = b"old contents\n" * 100
NEW = b"new contents!\n" * 300


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


@pytest.fixture
def existing(tmp_path):
    target = tmp_path / "scene.json"
    target.write_bytes(OLD)
    return target


def test_write_creates_and_replaces(tmp_path, existing):
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, NEW)
    assert fresh.read_bytes() == NEW
    atomic_write_bytes(existing, NEW)
    assert existing.read_bytes() == NEW
    assert _leftovers(tmp_path) == []


def test_text_mode_writes_utf8(tmp_path):
    target = tmp_path / "recipe.json"
    with atomic_open(target, "w") as fh:
        fh.write("colour: ñ\n")
    assert target.read_bytes() == "colour: ñ\n".encode("utf-8")


def test_temporary_sits_beside_target_until_the_end(tmp_path, existing):
    with atomic_open(existing) as fh:
        fh.write(NEW)
        # The target still holds the old data while writing is under way.
        assert existing.read_bytes() == OLD
        (tmp,) = _leftovers(tmp_path)
        assert tmp.startswith(f".{existing.name}.tmp-")
    assert existing.read_bytes() == NEW
    assert _leftovers(tmp_path) == []


def test_keeps_permissions_of_replaced_file(tmp_path, existing):
    os.chmod(existing, 0o640)
    atomic_write_bytes(existing, NEW)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640


def test_error_inside_block_keeps_old_file(tmp_path, existing):
    with pytest.raises(SaveError, match="Could not save") as info:
        with atomic_open(existing) as fh:
            fh.write(NEW[: len(NEW) // 2])
            fh.flush()
            raise RuntimeError("serialiser broke")
    assert str(existing) in str(info.value) and "serialiser broke" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert existing.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_interrupt_inside_block_is_not_swallowed(tmp_path, existing):
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(existing) as fh:
            fh.write(NEW)
            raise KeyboardInterrupt
    assert existing.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("func", ["replace", "fsync"])
def test_disk_full_keeps_old_file(tmp_path, existing, monkeypatch, func):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, func, disk_full)
    with pytest.raises(SaveError) as info:
        atomic_write_bytes(existing, NEW)
    monkeypatch.undo()
    assert str(info.value) == f"Could not save {existing}: the disk is full"
    assert existing.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "b.npz"
    with pytest.raises(SaveError) as info:
        atomic_write_bytes(target, NEW)
    assert str(target) in str(info.value) and "does not exist" in str(info.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0,
                    reason="needs POSIX permissions that apply to this user (not root)")
def test_unwritable_folder_names_the_path(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "b.npz"
    target.write_bytes(OLD)
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(SaveError, match="permission denied") as info:
            atomic_write_bytes(target, NEW)
    finally:
        os.chmod(folder, 0o700)
    assert str(target) in str(info.value)
    assert target.read_bytes() == OLD


def test_permission_denied_at_rename_keeps_old_file(tmp_path, existing, monkeypatch):
    # Simulated, because chmod cannot deny root (the test above skips then).
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic.os, "replace", denied)
    with pytest.raises(SaveError, match=r"permission denied$"):
        atomic_write_bytes(existing, NEW)
    monkeypatch.undo()
    assert existing.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_rejects_read_modes(tmp_path):
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "rb"):
            pass


# ---------------------------------------------------------------- stale temporary files, targets


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_write_killed_with_sigkill_leaves_the_old_file_and_the_next_write_removes_its_temp(existing):
    import signal
    import subprocess
    import sys

    if not hasattr(signal, "SIGKILL"):
        pytest.skip("SIGKILL is POSIX")
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from strata.engine.core.atomic import atomic_open\n"
        f"with atomic_open({str(existing)!r}) as fh:\n"
        "    fh.write(b'x' * 4_000_000); fh.flush()\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert existing.read_bytes() == OLD
    assert len(_leftovers(existing.parent)) == 1  # what the kill left
    atomic_write_bytes(existing, NEW)
    assert existing.read_bytes() == NEW and _leftovers(existing.parent) == []


def test_only_stale_temps_of_strata_s_own_naming_are_removed(tmp_path):
    import time

    target = tmp_path / "scene.png"
    dead = tmp_path / f".scene.png.tmp-{_dead_pid()}-0123abcd"
    alive = tmp_path / f".scene.png.tmp-{os.getpid()}-89abcdef"  # a write in flight in this process
    old_style = tmp_path / ".scene.png.tmp-deadbeef"
    fresh_old_style = tmp_path / ".scene.png.tmp-cafebabe"
    other_target = tmp_path / f".other.png.tmp-{_dead_pid()}-0123abcd"
    foreign = [tmp_path / ".scene.png.tmp-notours", tmp_path / "scene.png.tmp-1-0123abcd",
               tmp_path / ".scene.png.swp"]
    for p in [dead, alive, old_style, fresh_old_style, other_target, *foreign]:
        p.write_bytes(b"partial")
    day_ago = time.time() - 2 * 3600
    os.utime(old_style, (day_ago, day_ago))
    atomic_write_bytes(target, NEW)
    left = {p.name for p in tmp_path.iterdir()}
    assert dead.name not in left and old_style.name not in left
    assert {alive.name, fresh_old_style.name, other_target.name, *(p.name for p in foreign)} <= left
    assert atomic.clean_stale_temps(tmp_path) == [other_target]  # start-up: the whole folder


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_anything_but_a_regular_file_is_never_replaced(tmp_path, kind):
    target = tmp_path / "out.png"
    if kind == "folder":
        target.mkdir()
    elif hasattr(os, "mkfifo"):
        os.mkfifo(target)
    else:
        pytest.skip("FIFOs are POSIX")
    with pytest.raises(SaveError, match=f"out.png: it is a {'folder' if kind == 'folder' else 'FIFO'}"):
        atomic_write_bytes(target, NEW)
    assert not stat.S_ISREG(os.lstat(target).st_mode) and _leftovers(tmp_path) == []
