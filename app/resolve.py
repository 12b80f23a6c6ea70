"""Find the model a saved scene was made with, by the sha256 of its weights."""

from __future__ import annotations

from pathlib import Path

from strata.engine.core.errors import RecipeError, StrataError
from strata.engine.core.models import file_fingerprint
from strata.engine.core.scene import ModelRef


def find_model(ref: ModelRef | None, *, source: str = "recipe", extra: list[Path] = ()) -> Path:
    """The path of the model ``ref`` names: its path hint, ``extra`` paths, then the bundled models.

    A candidate counts only when its fingerprint matches, so a file that was
    retrained under the same name is never taken for the original.
    """
    from strata import assets

    if ref is None:
        return assets.default_model_path()
    candidates = [Path(ref.path)] if ref.path else []
    candidates += [Path(p) for p in extra]
    candidates += [assets.default_model_path(), *sorted(assets.HERE.glob("*.pth"))]
    seen = set()
    for c in candidates:
        try:
            key = c.resolve()
            if key in seen or not c.is_file():
                continue
            seen.add(key)
            if file_fingerprint(c) == ref.fingerprint:
                return c
        except (OSError, StrataError):  # unreadable, not a regular file, over the model size limit
            continue
    raise RecipeError(f"{source}: made with model {ref.name or '?'} (sha256 {ref.fingerprint[:12]}...), "
                      f"which is not at {ref.path or 'its recorded path'}; open that model first or pass --model")
