"""The crash-recovery journal: the editing session on disk, so that a kill -9 loses nothing (no Qt).

While a window edits, :meth:`Journal.record` writes its history (every step's
model path and scene as a recipe, and which step is the present) to
``session-<pid>.json`` in the state folder (:func:`strata.app.files.state_dir`),
atomically: a kill at any moment leaves the previous journal or the new one,
never half of one. A clean exit calls :meth:`Journal.clear`, which removes it.
So a journal whose process is gone is a session that crashed; the next start
finds it with :meth:`Journal.recover` and offers to restore it. A journal of a
process still running (a second window) is left alone.

Boundaries are stored once per journal (by fingerprint) and every step names
the ones its edits use, so a long history of a scene with many rows stays
small. Each step's recipe keeps its checksum, so a journal changed on disk is
refused like any recipe.

Public API
----------
JournalStep
    A frozen ``(model_path, scene)`` pair.
Session
    What a journal holds: the steps, the present's index, the writer's pid and when it wrote.
Journal
    ``record(history)``, ``record_steps(steps, position)``, ``clear()``, ``orphans()``,
    ``load(path)``, ``recover()``, ``discard(path)``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from strata.engine.core import limits
from strata.engine.core.atomic import atomic_write_bytes, clean_stale_temps, process_alive
from strata.engine.core.errors import RecipeError, StrataError
from strata.engine.core.scene import Scene

from .files import state_dir

__all__ = ["FORMAT", "Journal", "JournalStep", "Session"]

FORMAT = "strata-journal"
VERSION = 1
_NAME = re.compile(r"^session-(?P<pid>[0-9]{1,10})\.json$")


@dataclass(frozen=True, eq=False)
class JournalStep:
    """One step of the history: the model file and the scene."""

    model_path: str
    scene: Scene


@dataclass(frozen=True, eq=False)
class Session:
    """A journal read back: ``steps[position]`` is the present; earlier steps undo, later ones redo."""

    steps: tuple[JournalStep, ...]
    position: int
    pid: int
    saved_at: float  # seconds since the epoch
    path: Path

    @property
    def present(self) -> JournalStep:
        return self.steps[self.position]


def _steps_of(history) -> tuple[list[tuple[str, Scene]], int]:
    steps, position = history.timeline()
    return [(str(s.model_path), s.scene) for s in steps], position


class Journal:
    """This process's journal in ``folder`` (default: :func:`strata.app.files.state_dir`).

    Parameters
    ----------
    folder : str or Path, optional
        Where journals live; tests pass a temporary folder.
    pid : int, optional
        Whose journal this is (default: this process).
    keep : int
        At most this many steps before the present, and as many after it, are kept.
    """

    def __init__(self, folder: str | Path | None = None, *, pid: int | None = None, keep: int = 50):
        self.folder = Path(folder) if folder is not None else state_dir()
        self.pid = os.getpid() if pid is None else int(pid)
        self.keep = int(keep)
        self.path = self.folder / f"session-{self.pid}.json"

    # ------------------------------------------------------------ writing

    def record(self, history) -> None:
        """Write the history (a :class:`~strata.app.history.History` of editor states) atomically.

        Raises
        ------
        SaveError
            The state folder cannot be written (the caller shows it; editing goes on).
        """
        steps, position = _steps_of(history)
        self.record_steps(steps, position)

    def record_steps(self, steps: Sequence[tuple[str, Scene]], position: int) -> None:
        """Write ``(model_path, scene)`` steps with ``steps[position]`` the present, atomically."""
        if not 0 <= position < len(steps):
            raise IndexError(f"position {position} is outside the {len(steps)} steps")
        first = max(0, position - self.keep)
        kept = list(steps[first:position + self.keep + 1])
        pool: dict[str, dict] = {}
        out = []
        for model_path, scene in kept:
            recipe = scene.to_dict()
            refs = []
            for entry in recipe.pop("boundaries"):
                fp = entry["meta"]["fingerprint"]
                pool.setdefault(fp, entry)
                refs.append(fp)
            recipe["boundary_refs"] = refs
            out.append({"model_path": str(model_path), "recipe": recipe})
        doc = {"format": FORMAT, "version": VERSION, "pid": self.pid, "saved_at": time.time(),
               "position": position - first, "boundaries": pool, "steps": out}
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, json.dumps(doc, separators=(",", ":")).encode("utf-8"))

    def clear(self) -> None:
        """Remove this process's journal (a clean exit): nothing is offered at the next start."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # a journal left behind is offered once more; never a reason to fail an exit

    # ------------------------------------------------------------ reading

    def orphans(self) -> list[Path]:
        """Journals of sessions that ended without a clean exit (their process is gone), newest first.

        Stale temporary files of interrupted journal writes are removed on the way.
        """
        clean_stale_temps(self.folder)
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            m = _NAME.match(entry.name)
            if m is None or int(m["pid"]) == self.pid or process_alive(int(m["pid"])):
                continue
            try:
                found.append((entry.stat().st_mtime, Path(entry.path)))
            except OSError:
                continue
        return [p for _, p in sorted(found, reverse=True)]

    def load(self, path: str | Path | None = None) -> Session:
        """Read a journal (default: this process's own).

        Raises
        ------
        RecipeError
            One line naming the file: missing, over the limits, damaged, or a
            step whose recipe does not read (its checksum included).
        """
        path = Path(path) if path is not None else self.path
        doc = limits.read_json_file(path, "journal", RecipeError, what="journal")
        try:
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise RecipeError(f"{path}: not a Strata journal")
            if doc.get("version") != VERSION:
                raise RecipeError(f"{path}: journal version {str(doc.get('version'))[:20]} is not one this "
                                  "Strata reads")
            pool, raw_steps = doc["boundaries"], doc["steps"]
            if not isinstance(pool, dict) or not isinstance(raw_steps, list) or not raw_steps:
                raise RecipeError(f"{path}: journal holds no steps")
            position = doc["position"]
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(raw_steps):
                raise RecipeError(f"{path}: journal position {str(position)[:20]} is outside its "
                                  f"{len(raw_steps)} steps")
            steps = []
            for i, raw in enumerate(raw_steps):
                recipe = dict(raw["recipe"])
                refs = recipe.pop("boundary_refs", [])
                if not isinstance(refs, list) or not all(isinstance(r, str) and r in pool for r in refs):
                    raise RecipeError(f"{path}: step {i} names a boundary the journal does not hold")
                recipe["boundaries"] = [pool[r] for r in refs]
                model_path = raw["model_path"]
                if not isinstance(model_path, str):
                    raise RecipeError(f"{path}: step {i} has no model path")
                steps.append(JournalStep(model_path, Scene.from_dict(recipe, source=f"{path}: step {i}")))
            pid, saved_at = doc.get("pid", 0), doc.get("saved_at", 0.0)
            return Session(tuple(steps), position, int(pid) if isinstance(pid, int) else 0,
                           float(saved_at) if isinstance(saved_at, (int, float)) else 0.0, path)
        except StrataError as exc:
            raise RecipeError(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            raise RecipeError(f"{path}: damaged journal ({type(exc).__name__}: {exc})") from None

    def recover(self) -> tuple[Session | None, list[str]]:
        """The newest crashed session that reads, and a line for each journal that did not.

        A journal that does not read is removed (it would be offered at every start);
        the one returned stays until :meth:`discard` or :meth:`clear` of its owner.
        """
        problems = []
        for path in self.orphans():
            try:
                return self.load(path), problems
            except RecipeError as exc:
                problems.append(str(exc))
                self.discard(path)
        return None, problems

    def discard(self, path: str | Path) -> None:
        """Remove a journal that was restored or declined."""
        try:
            Path(path).unlink()
        except OSError:
            pass
