"""The editor's state and the rules that change it, on plain values (no Qt).

:class:`Editor` owns what the window shows: the present state (model path +
scene) in a :class:`~strata.app.history.History`, the model the rows are
fitted to, the last frame that rendered (kept whole, so that Save writes the
image with the recipe that made it), and boundaries waiting for a model.
The window turns user actions into calls here and renders what
:meth:`Editor.take_result` tells it to; it holds no editing rule itself.

Public API
----------
EditorState
    A frozen (model_path, scene) pair: one undo step.
Reaction
    What the window must do after a render result.
Editor
    The state machine.
merge_boundaries(scene, boundaries, info) -> (Scene, list[str])
code_fits(code, info) -> bool
panel_rows(scene, num_layers) -> list[dict]
heat_map(scene, num_layers) -> numpy.ndarray | None
window_title(info, model_path, *, default_title="", default_path="") -> str
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from strata.engine.core.boundary import LEVELS, Boundary, load_boundaries
from strata.engine.core.edits import Edit
from strata.engine.core.errors import StrataError
from strata.engine.core.render import ModelInfo, RenderResult
from strata.engine.core.scene import (Code, ModelRef, Scene, code_mismatch, code_shape, load_code_npy,
                                      read_recipe)

from .history import History
from .resolve import find_model

__all__ = ["BoundarySet", "Editor", "EditorState", "Reaction", "code_fits", "heat_map", "merge_boundaries", "panel_rows",
           "window_title"]


DEFAULT_SET_NAME = "Boundaries"


@dataclass(frozen=True, eq=False)
class BoundarySet:
    """A named set of panel rows. The active set's rows are the scene's edits; the others wait here."""

    name: str
    edits: tuple[Edit, ...] = ()


def _same_edits(a: Sequence[Edit], b: Sequence[Edit]) -> bool:
    return [(e.boundary.fingerprint, e.boundary.level, e.strength, e.layers) for e in a] == \
        [(e.boundary.fingerprint, e.boundary.level, e.strength, e.layers) for e in b]


@dataclass(frozen=True, eq=False)
class EditorState:
    """One undo step: the model, the scene, and the boundary sets beside the active one.

    ``sets[active_set]`` names the active set; its rows are ``scene.edits`` (the copy kept in
    ``sets`` is not read), so a set switch, a discovery and a merge undo like any edit.
    """

    model_path: str
    scene: Scene
    sets: tuple[BoundarySet, ...] = (BoundarySet(DEFAULT_SET_NAME),)
    active_set: int = 0

    def same_as(self, other: EditorState) -> bool:
        return (self.model_path == other.model_path and self.scene.same_as(other.scene)
                and self.active_set == other.active_set and len(self.sets) == len(other.sets)
                and all(a.name == b.name and (i == self.active_set or _same_edits(a.edits, b.edits))
                        for i, (a, b) in enumerate(zip(self.sets, other.sets))))

    def with_(self, **changes) -> EditorState:
        return replace(self, **changes)


@dataclass(frozen=True)
class Reaction:
    """What a render result asks of the window; every field defaults to "nothing"."""

    frame: bool = False  # a new frame: show Editor.last (image, time, device)
    fitted: bool = False  # the rows were fitted to Editor.model: rebuild the panel
    restored: bool = False  # the state went back to the last model that rendered: resync the widgets
    notes: tuple[str, ...] = ()  # status-bar lines, in order (the last one stays in view)
    error: str = ""  # what failed
    alert: bool = False  # the error answers something the user did (opening a model): tell them at once
    render: bool = False  # ask for a frame of the present state
    first_frame: bool = False  # the first frame this editor has shown


def code_fits(code: Code, info: ModelInfo) -> bool:
    """True when ``code`` can be rendered by the model ``info`` (a seed always can)."""
    return code_mismatch(code, z_dim=info.z_dim, w_dim=info.w_dim, num_layers=info.num_layers) is None


def _same_pixels(a: Scene, b: Scene) -> bool:
    """Whether two scenes draw the same image with the same model (rows at strength 0 draw nothing)."""
    def drawn(s: Scene) -> Scene:
        return s.with_(model=None, edits=s.active_edits)
    return drawn(a).same_as(drawn(b))


def merge_boundaries(scene: Scene, boundaries: Iterable[Boundary], info: ModelInfo) -> tuple[Scene, list[str]]:
    """``scene`` with a row (strength 0, default layers) for each boundary that fits ``info``.

    Rows are added coarse to fine (layout before colour), then by name; a
    boundary already present (same fingerprint) is skipped, and one with the
    name of a present row replaces that row's boundary, keeping its strength.

    Returns
    -------
    scene : Scene
    messages : list of str
        Why boundaries were refused; several become one line.
    """
    edits, msgs = list(scene.edits), []
    have = {e.boundary.fingerprint for e in edits}
    order = {lvl: i for i, lvl in enumerate(LEVELS)}  # coarse to fine, as the hierarchy reads
    for b in sorted(boundaries, key=lambda b: (order.get(b.level, len(order)), b.name)):
        try:
            b.check_compatible(w_dim=info.w_dim, num_layers=info.num_layers)
        except StrataError as exc:
            msgs.append(str(exc))
            continue
        if b.fingerprint in have:
            continue
        have.add(b.fingerprint)
        new = Edit.with_default_layers(b, 0.0, num_layers=info.num_layers)
        same = [i for i, e in enumerate(edits) if e.boundary.name == b.name]
        if same:  # a re-fitted boundary of that name supersedes the old row, keeping its strength
            edits[same[0]] = Edit(b, edits[same[0]].strength, new.layers)
        else:
            edits.append(new)
    if len(msgs) > 1:  # one line in the status bar, not the last of many
        msgs = [f"{len(msgs)} boundaries do not fit {info.name} and were not added; {msgs[0]}"]
    return scene.with_(edits=tuple(edits)), msgs


def panel_rows(scene: Scene, num_layers: int) -> list[dict]:
    """The semantic panel's rows for ``scene`` (plain values, as SemanticPanel.set_rows takes them)."""
    rows = []
    for e in scene.edits:
        b = e.boundary
        acc = f", validation accuracy {b.accuracy:.1%}" if b.accuracy is not None else ""
        rows.append({"name": b.name, "level": b.level, "strength": e.strength, "layers": e.layers,
                     "default_layers": Edit.with_default_layers(b, 0.0, num_layers=num_layers).layers,
                     "provenance": (b.provenance or "") + acc})
    return rows


def heat_map(scene: Scene, num_layers: int) -> np.ndarray | None:
    """Each row's per-layer effect (``dS`` from discovery) as ``[rows, layers]``, if every row has one."""
    heat = [e.boundary.extra.get("dS") for e in scene.edits]
    if heat and all(h is not None and len(h) == num_layers for h in heat):
        return np.asarray(heat, dtype=float)
    return None


def window_title(info: ModelInfo | None, model_path: str, *, default_title: str = "",
                 default_path: str = "") -> str:
    """"Strata — <model> — <res>×<res>"; the bundled model goes by its given title."""
    if info is None:
        return f"Strata — {Path(model_path).name}"
    bundled = default_title and default_path and Path(info.path) == Path(default_path)
    return f"Strata — {default_title if bundled else info.name} — {info.resolution}×{info.resolution}"


class Editor:
    """The editor's state and its transitions.

    Parameters
    ----------
    model_path : str or Path
        The model to open first.
    boundaries : iterable of Boundary
        Rows to add once that model has loaded.
    merge_seconds : float
        Changes of one control closer together than this are one undo step
        (a slider drag).
    clock : callable
        Seconds, for the merge window (tests pass their own).
    """

    def __init__(self, model_path: str | Path, boundaries: Iterable[Boundary] = (), *,
                 merge_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.history: History[EditorState] = History(
            EditorState(str(Path(model_path).resolve()), Scene(psi=0.7)), merge_seconds=merge_seconds, clock=clock)
        self.model: ModelInfo | None = None  # the model the rows are fitted to
        self.last: RenderResult | None = None  # the last frame that rendered, whole: what is on screen
        self.last_exact: RenderResult | None = None  # the last float32 frame: what Save writes
        self.pending: list[Boundary] = list(boundaries)  # boundaries waiting for the first model
        self.save_path: Path | None = None  # where Save writes without asking
        self.document: Path | None = None  # the scene file the work was last opened from or saved to
        self._baseline: EditorState | None = None  # the state as last opened or saved: "not modified"
        self._baseline_pending = True  # take the baseline once the opened scene is fitted to its model
        self._fresh = True  # the first model sets the truncation to its own default
        self._refitting = False  # a frame of rows fitted to a new model is on its way

    # ------------------------------------------------------------ state

    @property
    def state(self) -> EditorState:
        return self.history.present

    @property
    def scene(self) -> Scene:
        return self.state.scene

    def push(self, scene: Scene, *, model_path: str | None = None, merge_key: object = None) -> bool:
        """Make ``scene`` (and ``model_path``) the present as an undo step; False if nothing changed."""
        new = self.state.with_(model_path=self.state.model_path if model_path is None else model_path,
                               scene=scene)
        if new.same_as(self.state):
            return False  # a change that changes nothing is not a step to undo
        self.history.push(new, merge_key=merge_key)
        return True

    def undo(self) -> bool:
        return self.history.undo() is not None

    def redo(self) -> bool:
        return self.history.redo() is not None

    @property
    def num_layers(self) -> int:
        """Layers of the fitted model (1 before any model has loaded)."""
        return self.model.num_layers if self.model is not None else 1

    def code_shape(self) -> tuple[int, int, int] | None:
        """The shape of a wp code of the fitted model, for telling codes from boundaries."""
        if self.model is None:
            return None
        return code_shape("wp", z_dim=self.model.z_dim, w_dim=self.model.w_dim, num_layers=self.model.num_layers)

    def default_layers(self, index: int) -> tuple[int, int]:
        """What a reset restores for row ``index``: its boundary's layers, clipped to the model."""
        return Edit.with_default_layers(self.scene.edits[index].boundary, 0.0, num_layers=self.num_layers).layers

    # ------------------------------------------------------------ edits

    def set_seed(self, seed: int) -> bool:
        return self.push(self.scene.with_(code=Code.from_seed(seed)), merge_key="seed")

    def set_psi(self, psi: float) -> bool:
        return self.push(self.scene.with_(psi=psi), merge_key="psi")

    def set_class(self, class_index: int) -> bool:
        """Draw another class of a class-conditional model (its own undo step)."""
        classes = self.model.num_classes if self.model is not None else 0
        if not 0 <= class_index < classes:
            return False  # a late signal from a selector of a model no longer open
        return self.push(self.scene.with_(class_index=class_index))

    def set_input_transform(self, transform: Sequence[float] | None) -> bool:
        """Move and turn a StyleGAN3 model's input: ``(x, y, degrees)``; a drag is one undo step."""
        if self.model is None or not self.model.input_transform:
            return False
        return self.push(self.scene.with_(input_transform=None if transform is None else tuple(transform)),
                         merge_key="input_transform")

    def set_row(self, index: int, strength: float | None = None, layers: Sequence[int] | None = None) -> bool:
        """Change row ``index``; a drag on one row (changes within the merge window) is one undo step."""
        if not 0 <= index < len(self.scene.edits):
            return False  # a signal from a row that a newer state has already removed
        return self.push(self.scene.with_edit(index, strength=strength,
                                              layers=None if layers is None else tuple(layers)),
                         merge_key=("row", index))

    def pick_strength(self, index: int, strength: float) -> bool:
        """Set row ``index`` to a strength picked from the preview strip (its own undo step)."""
        if not 0 <= index < len(self.scene.edits):
            return False
        return self.push(self.scene.with_edit(index, strength=strength))

    def reset_row(self, index: int) -> bool:
        if not 0 <= index < len(self.scene.edits):
            return False
        return self.push(self.scene.with_edit(index, strength=0.0, layers=self.default_layers(index)))

    def reset_all(self) -> bool:
        edits = tuple(Edit.with_default_layers(e.boundary, 0.0, num_layers=self.num_layers)
                      for e in self.scene.edits)
        return self.push(self.scene.with_(edits=edits))

    def set_code(self, code: Code) -> bool:
        return self.push(self.scene.with_(code=code))

    def read_code(self, path: str | Path, space: str | None = None) -> Code:
        """A code from a ``.npy``, shaped for the fitted model; ``space`` settles a [1, dim] array."""
        if self.model is None:
            raise StrataError("open a model before importing a code")
        i = self.model
        kw = {} if space is None else {"space": space}
        return load_code_npy(path, z_dim=i.z_dim, w_dim=i.w_dim, num_layers=i.num_layers, **kw)

    def code_is_ambiguous(self, code: Code) -> bool:
        """A [1, dim] array fits both z and w when the model's z_dim equals its w_dim; only the
        person who saved it knows which it is."""
        return self.model is not None and code.space == "z" and self.model.z_dim == self.model.w_dim

    # ------------------------------------------------------------ opening

    def open_model(self, path: str | Path) -> None:
        """Switch to the model at ``path``, keeping the scene (rows that do not fit go when it loads)."""
        path = Path(path)
        if not path.is_file():
            raise StrataError(f"{path}: no such file")
        # Classes belong to a model: another model starts at its first class (or has none).
        self.push(self.scene.with_(class_index=None, input_transform=None), model_path=str(path.resolve()))
        self.save_path = None
        self.document = None

    def open_recipe(self, path: str | Path) -> None:
        """Open a saved scene (PNG or JSON) and the model it names; Save then rewrites a PNG in place."""
        path = Path(path)
        scene = read_recipe(path)
        model = find_model(scene.model, source=str(path), extra=[Path(self.state.model_path)])
        self.push(scene, model_path=str(model.resolve()))
        self.save_path = path if path.suffix.lower() == ".png" else None
        self.document = path
        self._baseline_pending = True  # the opened scene is the unmodified one, once fitted

    def add_boundaries(self, boundaries: Sequence[Boundary]) -> tuple[int | None, list[str]]:
        """Add a row for each boundary that fits the model.

        Returns
        -------
        added : int or None
            How many rows were added; None when no model has loaded yet (the
            boundaries wait for it).
        messages : list of str
            Boundaries that were refused, and why.

        Raises
        ------
        StrataError
            Not one of the boundaries fits the model.
        """
        if self.model is None:
            self.pending += boundaries
            return None, []
        before = len(self.scene.edits)
        scene, msgs = merge_boundaries(self.scene, boundaries, self.model)
        if msgs and len(scene.edits) == before:
            raise StrataError(msgs[0])
        self.push(scene)
        return len(scene.edits) - before, msgs

    def open_boundaries(self, path: str | Path) -> tuple[int | None, list[str]]:
        """Read boundaries from a file or folder and :meth:`add_boundaries` them.

        The messages name the files that could not be read too.
        """
        boundaries, errors = load_boundaries(path)
        if not boundaries:
            raise StrataError(errors[0] if errors else f"{path}: no boundaries found")
        added, msgs = self.add_boundaries(boundaries)
        return added, errors + msgs

    # ------------------------------------------------------------ boundary sets

    @property
    def set_names(self) -> list[str]:
        return [s.name for s in self.state.sets]

    @property
    def active_set(self) -> int:
        return self.state.active_set

    def _sets_with_active(self) -> list[BoundarySet]:
        """The sets with the active one's rows as they are now (the scene's edits)."""
        sets = list(self.state.sets)
        sets[self.state.active_set] = BoundarySet(sets[self.state.active_set].name, self.scene.edits)
        return sets

    def add_set(self, name: str, boundaries: Sequence[Boundary]) -> tuple[int, list[str]]:
        """Add ``boundaries`` as a new set beside the present rows (one undo step); nothing shown changes.

        Returns how many rows the set has and why boundaries were refused. The
        name is made unique ("Discovery 14:03", "Discovery 14:03 (2)").
        """
        if self.model is None:
            raise StrataError("open a model before adding a boundary set")
        rows, msgs = merge_boundaries(Scene(), boundaries, self.model)
        if not rows.edits:
            raise StrataError(msgs[0] if msgs else "no boundaries to add")
        taken, unique, n = set(self.set_names), name, 1
        while unique in taken:
            n += 1
            unique = f"{name} ({n})"
        self._push_state(self.state.with_(sets=self.state.sets + (BoundarySet(unique, rows.edits),)))
        return len(rows.edits), msgs

    def switch_set(self, index: int) -> bool:
        """Show set ``index``'s rows (and render its edits); the rows left keep their values."""
        if not 0 <= index < len(self.state.sets) or index == self.state.active_set:
            return False
        sets = self._sets_with_active()
        return self._push_state(self.state.with_(scene=self.scene.with_(edits=sets[index].edits),
                                                 sets=tuple(sets), active_set=index))

    def merge_set(self, index: int) -> int:
        """Add set ``index``'s rows to the active set (one undo step); returns how many were added.

        A boundary already among the rows is skipped; a row whose name is taken
        is added under "<name> (<set>)", so both stay apart. Rows keep their
        strength and layers.
        """
        if not 0 <= index < len(self.state.sets) or index == self.state.active_set:
            return 0
        source = self.state.sets[index]
        edits = list(self.scene.edits)
        # The same direction under another name is the same boundary (a merged row was renamed).
        have = {e.boundary.vector.tobytes() for e in edits}
        names = {e.boundary.name for e in edits}
        for e in source.edits:
            if e.boundary.vector.tobytes() in have:
                continue
            b = e.boundary
            if b.name in names:
                b = replace(b, name=f"{b.name} ({source.name})")
            names.add(b.name)
            have.add(e.boundary.vector.tobytes())
            edits.append(Edit(b, e.strength, e.layers))
        added = len(edits) - len(self.scene.edits)
        if added:
            self.push(self.scene.with_(edits=tuple(edits)))
        return added

    def remove_set(self, index: int) -> bool:
        """Drop a set that is not the active one (one undo step)."""
        if not 0 <= index < len(self.state.sets) or index == self.state.active_set:
            return False
        sets = self.state.sets[:index] + self.state.sets[index + 1:]
        active = self.state.active_set - (1 if index < self.state.active_set else 0)
        return self._push_state(self.state.with_(sets=sets, active_set=active))

    def _push_state(self, state: EditorState) -> bool:
        if state.same_as(self.state):
            return False
        self.history.push(state)
        return True

    # ------------------------------------------------------------ results

    def take_result(self, result: RenderResult) -> Reaction:
        """Take a frame (or a failure) from the engine; the newest one only, in order."""
        if not result.ok:
            return self._recover(result)
        if result.request.model_path != self.state.model_path:
            return Reaction()  # a frame of a model the editor has since left; the newer request is queued
        first = self.last is None
        self.last = result
        if result.exact:
            self.last_exact = result
        self._refitting = False
        if self.model is not None and result.model.path == self.model.path:
            if self._baseline_pending and result.request.scene.same_as(self.scene):
                self._baseline, self._baseline_pending = self.state, False  # the opened scene, as it shows
            return Reaction(frame=True, first_frame=first)
        notes = self._fit(result.model)
        # Fitting names the model and drops rows that do not fit; a frame is asked for again only
        # when that changed the pixels (a fresh model's own psi, a dropped active row).
        again = not _same_pixels(self.scene, result.request.scene)
        return Reaction(frame=True, fitted=True, notes=notes, render=again, first_frame=first)

    def _fit(self, info: ModelInfo) -> tuple[str, ...]:
        """A model just loaded: name it in the scene, keep the rows that fit it, add waiting boundaries."""
        self.model = info
        scene = self.scene.with_(model=ModelRef(info.fingerprint, info.path, info.name))
        if self._fresh and not self.history.can_undo():
            scene = scene.with_(psi=info.default_psi)  # a fresh start uses the model's own truncation
        self._fresh = False
        kept = tuple(e for e in scene.edits if e.fits(w_dim=info.w_dim, num_layers=info.num_layers))
        dropped = len(scene.edits) - len(kept)
        scene = scene.with_(edits=kept)
        notes: list[str] = []
        if self.pending:
            scene, notes = merge_boundaries(scene, self.pending, info)
            self.pending = []
        # Rows of the sets waiting beside the active one must fit the model too.
        sets = tuple(BoundarySet(s.name, tuple(e for e in s.edits if e.fits(w_dim=info.w_dim,
                                                                              num_layers=info.num_layers)))
                     for s in self.state.sets)
        self.history.replace(self.state.with_(scene=scene, sets=sets))
        if self._baseline_pending:
            self._baseline, self._baseline_pending = self.state, False
        if dropped:
            notes.append(f"{dropped} boundary row(s) do not fit {info.name} and were removed")
        return tuple(notes)

    def _recover(self, result: RenderResult) -> Reaction:
        """A request failed: go back to the last state that rendered, keeping the edits."""
        failed, last = result.request, self.last
        switching = (last is not None and failed.model_path != last.request.model_path
                     and failed.model_path == self.state.model_path)
        info = result.model
        if switching and info is not None and info.path == failed.model_path \
                and code_fits(self.scene.code, info) and not self._refitting:
            # The new model opened, but some rows do not fit it: keep the model, drop those rows.
            # Once only: if the fitted scene fails too, it is an error like any other.
            self._refitting = True
            return Reaction(fitted=True, notes=self._fit(info), render=True)
        self._refitting = False
        if switching:
            # The model did not open (or its code does not fit): stay on the old one with every edit.
            self.history.replace(self.state.with_(model_path=last.request.model_path,
                                                  scene=self.scene.with_(model=last.request.scene.model)))
            return Reaction(restored=True, error=result.error, alert=True, render=True)
        # Before any frame the failure is all there is to show; after one, a failed frame
        # (e.g. out of memory) is said once in the status bar, the last good frame stays.
        return Reaction(error=result.error, alert=last is None)

    # ------------------------------------------------------------ what the window reads

    def frame_to_save(self) -> tuple[np.ndarray, Scene] | None:
        """The last exact frame and the recipe that made it, named by the model that drew it.

        A reduced-precision preview (shown while a slider moves) is never saved: its recipe would
        re-render to other pixels.
        """
        last = self.last_exact
        if last is None:
            return None
        info = last.model
        scene = last.request.scene
        if last.request.model_path == self.state.model_path and _same_pixels(self.scene, scene):
            scene = self.scene  # the same pixels: the present scene, with its rows at strength 0 too
        return last.image, scene.with_(model=ModelRef(info.fingerprint, info.path, info.name))

    def needs_exact_frame(self) -> bool:
        """Whether what Save would write lags the present: a reduced-precision preview is on screen."""
        last = self.last_exact
        return last is not None and self.last is not last and not _same_pixels(self.scene, last.request.scene)

    def recipe_scene(self) -> Scene:
        """The present scene for a recipe, named by its model once that model has loaded."""
        scene, info = self.scene, self.model
        if info is not None and info.path == self.state.model_path:
            scene = scene.with_(model=ModelRef(info.fingerprint, info.path, info.name))
        return scene

    @property
    def modified(self) -> bool:
        """Whether the present state differs from the one last opened or saved (undo back: not modified)."""
        return self._baseline is not None and not self.state.same_as(self._baseline)

    def mark_saved(self, path: str | Path | None = None) -> None:
        """The present state is saved (to ``path``): it is the new unmodified state."""
        self._baseline, self._baseline_pending = self.state, False
        if path is not None:
            self.document = Path(path)

    def title(self, *, default_title: str = "", default_path: str = "") -> str:
        """"<scene file>[*] — Strata — <model> — <res>": Qt shows "[*]" as "*" while modified."""
        doc = self.document.name if self.document is not None else "Untitled"
        return f"{doc}[*] — " + window_title(self.last.model if self.last else None, self.state.model_path,
                                             default_title=default_title, default_path=default_path)
