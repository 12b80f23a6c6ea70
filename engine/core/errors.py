"""Errors a user sees: one clear line that names the file and what is wrong.

The GUI shows ``str(error)`` as it is, and the command line prints it and
exits non-zero; neither adds a traceback. Anything that is *not* a
:class:`StrataError` is a bug and is reported as one.

Public API
----------
StrataError
    Base of every user-facing error.
ModelLoadError
    A generator file could not be read or is not a supported generator.
BoundaryError
    A boundary file could not be read, or a boundary does not fit a model.
RecipeError
    An edit recipe could not be read or refers to something that is missing.
SaveError
    A file could not be written; the previous file (if any) is left intact.
"""

from __future__ import annotations

__all__ = ["MAX_MESSAGE_CHARS", "BoundaryError", "ModelLoadError", "RecipeError", "SaveError", "StrataError",
           "one_line"]


# The longest message a user is shown: a refusal that quotes a file's contents
# (a 100 KB key, a 5,000-digit number) is clipped in the middle, keeping the
# file name at the start and the reason at the end.
MAX_MESSAGE_CHARS = 400


def one_line(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line (runs of white space become one space), at most ``limit`` characters."""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    keep = limit - 5
    return line[: keep - keep // 3] + " ... " + line[len(line) - keep // 3:]


class StrataError(Exception):
    """Base of every error meant for the user rather than for a developer.

    The message is a single line naming the file (or the thing) and what is
    wrong with it, e.g. ``"view.npy: boundary has dimension 512 but the
    model's W space has 64"``. Whatever it is built from, it is one line of at
    most :data:`MAX_MESSAGE_CHARS` characters.
    """

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], str):
            args = (one_line(args[0]),)
        super().__init__(*args)


class ModelLoadError(StrataError):
    """A generator file could not be read or is not a supported generator."""


class BoundaryError(StrataError):
    """A boundary file could not be read, or a boundary does not fit a model."""


class RecipeError(StrataError):
    """An edit recipe could not be read or refers to something that is missing."""


class SaveError(StrataError):
    """A file could not be written; the previous file (if any) is left intact."""
