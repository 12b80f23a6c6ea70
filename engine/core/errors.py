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

__all__ = ["BoundaryError", "ModelLoadError", "RecipeError", "SaveError", "StrataError"]


class StrataError(Exception):
    """Base of every error meant for the user rather than for a developer.

    The message is a single line naming the file (or the thing) and what is
    wrong with it, e.g. ``"view.npy: boundary has dimension 512 but the
    model's W space has 64"``.
    """


class ModelLoadError(StrataError):
    """A generator file could not be read or is not a supported generator."""


class BoundaryError(StrataError):
    """A boundary file could not be read, or a boundary does not fit a model."""


class RecipeError(StrataError):
    """An edit recipe could not be read or refers to something that is missing."""


class SaveError(StrataError):
    """A file could not be written; the previous file (if any) is left intact."""
