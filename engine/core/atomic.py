"""Write a file so that a crash or a full disk never leaves half of it behind.

The data goes to a temporary file in the target's own folder (so the final
rename stays on one file system), is flushed and ``fsync``-ed, and then
``os.replace`` swaps it onto the target in one step. Until that step the old
file is untouched; after it the new file is complete.

Public API
----------
atomic_write_bytes(path, data)
    Replace ``path`` with ``data`` atomically.
atomic_open(path, mode="wb", *, encoding=None)
    Context manager yielding a file object whose contents replace ``path``
    when the ``with`` block ends without an error.
clean_stale_temps(folder, *, name=None) -> list[Path]
    Remove temporary files of Strata's own naming that no live writer owns.

Temporary files are named ``.<name>.tmp-<pid>-<8 hex digits>``: a process
killed mid-write (SIGKILL, power loss) leaves one behind, and the next write
next to it (or :func:`clean_stale_temps` at start-up) removes it once its
writer's process is gone or it is older than :data:`STALE_SECONDS`. Only
names of exactly that form are ever removed.

Only a regular file (or nothing) is ever replaced: a path that names a
device, a FIFO, a socket or a folder is refused, so that ``-o /dev/full`` run
as root cannot replace the device node.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from strata.engine.core.errors import SaveError, StrataError

__all__ = ["STALE_SECONDS", "atomic_open", "atomic_write_bytes", "clean_stale_temps", "process_alive"]

# A temporary file whose writer is still alive is left alone unless it is older than this (the
# process id may have been reused); one of the older naming without a process id, after an hour.
STALE_SECONDS = 24 * 3600
_STALE_SECONDS_NO_PID = 3600
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?:(?P<pid>[0-9]{1,10})-)?[0-9a-f]{8}$")

_MODES = {"w": "w", "wt": "w", "wb": "wb"}

# Leaves room for ".<name>.tmp-xxxxxxxx" within the usual 255-byte name limit.
_MAX_NAME = 200

_REASONS = {
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "a folder of that name is in the way",
}
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "the disk quota is exceeded"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _REASONS.get(exc.errno, exc.strerror or str(exc))
    return f"{type(exc).__name__}: {exc}"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (on Windows: always True; only ages decide there)."""
    if os.name == "nt":
        return True  # no cheap check there: only the age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # another user's process, or a number the system cannot check: assume alive
    return True


def _is_stale(path: Path, pid: str | None, now: float) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False  # only plain files of our naming are ever removed
    age = now - st.st_mtime
    if pid is None:
        return age > _STALE_SECONDS_NO_PID
    if age > STALE_SECONDS:
        return True
    return int(pid) != os.getpid() and not process_alive(int(pid))


def clean_stale_temps(folder: str | os.PathLike, *, name: str | None = None) -> list[Path]:
    """Remove stale temporary files of Strata's own naming in ``folder``.

    Parameters
    ----------
    folder : str or path-like
        The folder to look in (not its sub-folders).
    name : str, optional
        Only the temporary files of this target name (``scene.png``).

    Returns
    -------
    list of Path
        The files removed. A temporary file is stale when the process that
        wrote it is gone, or it is older than :data:`STALE_SECONDS`; nothing
        that does not match ``.<name>.tmp-<pid>-<hex>`` is touched. Errors
        (a folder that cannot be listed, a file that cannot be removed) are
        ignored: cleaning never stops a save.
    """
    removed: list[Path] = []
    prefix = None if name is None else f".{name[:_MAX_NAME]}.tmp-"
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if prefix is not None and not entry.name.startswith(prefix):
            continue
        m = _TEMP.match(entry.name)
        if m is None or (name is not None and m["name"] != name[:_MAX_NAME]):
            continue
        path = Path(entry.path)
        if _is_stale(path, m["pid"], now):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _check_target(target: Path) -> None:
    """Refuse to replace anything but a regular file (a device node, a FIFO, a folder)."""
    try:
        st = os.stat(target)
    except OSError:
        return  # nothing there (or nothing we can see): the write itself says what is wrong
    if not stat.S_ISREG(st.st_mode):
        what = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO",
                stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise SaveError(f"Could not save {target}: it is {what}; Strata replaces only regular files")


def _create_temp(target: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name[:_MAX_NAME]}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # 0o666 so that the user's umask decides, as for any new file.
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not find a free temporary name", str(target.parent))


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders
    # this way, and a failure here cannot un-write the file, so best effort.
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *,
                encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file whose contents replace ``path`` on success.

    Parameters
    ----------
    path : str or path-like
        The file to create or replace.
    mode : {"wb", "w", "wt"}
        Binary or text; text defaults to UTF-8.
    encoding : str, optional
        Text encoding for text modes.

    Raises
    ------
    SaveError
        The file could not be written (missing folder, permission denied,
        disk full, or an error raised inside the ``with`` block). The
        temporary file is removed and any previous file at ``path`` is left
        as it was. A :class:`StrataError` raised inside the block passes
        through unchanged, as do ``KeyboardInterrupt`` and friends (after
        the same clean-up).
    """
    if mode not in _MODES:
        raise ValueError(f"atomic_open writes only; mode must be one of {sorted(_MODES)}, "
                         f"got {mode!r}")
    target = Path(path)
    text = _MODES[mode] == "w"
    if not text and encoding is not None:
        raise ValueError("binary mode does not take an encoding")
    _check_target(target)
    clean_stale_temps(target.parent if str(target.parent) else ".", name=target.name)
    try:
        fd, tmp = _create_temp(target)
    except OSError as exc:
        raise SaveError(f"Could not save {target}: {_reason(exc)}") from exc

    fh = None
    try:
        try:
            # Keep the permissions of the file being replaced.
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        except OSError:
            pass
        fh = os.fdopen(fd, _MODES[mode], encoding=(encoding or "utf-8") if text else None,
                       newline="" if text else None)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if fh is None:
            # The file object never took the descriptor over, so close it here
            # (never after the file object has closed it: the number may be
            # reused by then).
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, StrataError) or not isinstance(exc, Exception):
            raise
        raise SaveError(f"Could not save {target}: {_reason(exc)}") from exc
    _fsync_folder(target.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step.

    Parameters
    ----------
    path : str or path-like
        The file to create or replace.
    data : bytes-like
        The complete new contents.

    Raises
    ------
    SaveError
        The file could not be written; any previous file is left intact.
    """
    with atomic_open(path, "wb") as fh:
        fh.write(data)
