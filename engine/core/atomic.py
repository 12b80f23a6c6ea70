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
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from strata.engine.core.errors import SaveError, StrataError

__all__ = ["atomic_open", "atomic_write_bytes"]

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


def _create_temp(target: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name[:_MAX_NAME]}.tmp-{secrets.token_hex(4)}")
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
