"""The ``strata`` command: the window by default, subcommands for headless work.

``strata [PATH]``                 open the editor (on the bundled default, or PATH)
``strata render ...``             render a scene to PNG, no display needed
``strata info [MODEL]``           print a model's inferred configuration (default: the bundled one)
``strata train ...``              train a generator on the rooms world
``strata analyze ...``            find the semantic hierarchy of a generator (HiGAN)
``strata evaluate ...``           a rooms generator's quality figures
``strata predictor train|eval``   train or measure the rooms predictor
``strata rooms OUT.png``          save a grid of procedural rooms
``strata --screenshot shot.png``  open the window, save a screenshot of the first frame, exit

A user's mistake is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

SUBCOMMANDS = ("render", "info", "train", "analyze", "evaluate", "predictor", "rooms")


def _version() -> str:
    from strata.engine import __version__
    return __version__


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="strata", description="Strata: edit GAN-synthesized scenes layer by layer, by semantic.",
        epilog="Subcommands (no display needed): " + ", ".join(SUBCOMMANDS) + ". "
               "See `strata render --help`.")
    p.add_argument("path", nargs="?", help="a model (.pth), a saved scene (.png), a recipe (.json), "
                   "or a boundary file or folder")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot once the first frame shows, then exit")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("--version", action="version", version=f"strata {_version()}")
    return p


def _render_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="strata render", description="Render a scene to a PNG (with its recipe).")
    p.add_argument("--model", "-m", help="generator file (default: the recipe's model, else the bundled one)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--seed", "-s", type=int, help="draw z from this seed (default 0)")
    src.add_argument("--latent", help=".npy code: [1, z_dim] (z), [1, w_dim] (w) or [1, L, w_dim] "
                     "(wp, used as given, no further truncation)")
    src.add_argument("--recipe", help="a recipe (.json) or a PNG saved by Strata")
    p.add_argument("--latent-space", choices=("z", "w", "wp"), default=None,
                   help="how to read --latent when its shape is ambiguous (z_dim == w_dim): default z")
    p.add_argument("--truncation", "-t", type=float, help="truncation psi (default: the model's, e.g. 0.7)")
    p.add_argument("--class", dest="class_index", type=int, metavar="N",
                   help="class to draw, for a class-conditional model (default 0)")
    p.add_argument("--boundaries", "-b", action="append", default=[],
                   help="boundary file or folder (repeatable; default: the bundled model's)")
    p.add_argument("--edit", "-e", action="append", default=[], metavar="NAME=STRENGTH[@FIRST-LAST]",
                   help="move along a boundary, e.g. wood=-2.5@6-11 (layers default to the boundary's)")
    p.add_argument("--upscale", type=int, default=1, help="save the PNG this many times larger (1-16)")
    p.add_argument("--device", default=None)
    p.add_argument("-o", "--output", required=True,
                   help="output PNG (a new file or a regular file to replace; the name must end in .png)")
    return p


_EDIT = re.compile(r"^(?P<name>[^=]+)=(?P<strength>[-+]?[0-9.]+(?:[eE][-+]?\d+)?)"
                   r"(?:@(?P<first>\d+)(?:-(?P<last>\d+))?)?$")


def parse_edit(text: str) -> tuple[str, float, tuple[int, int] | None]:
    from strata.engine.core import limits
    from strata.engine.core.errors import StrataError

    m = _EDIT.match(text.strip())
    if not m or len(m["first"] or "") > 6 or len(m["last"] or "") > 6:
        raise ValueError(f"--edit {text!r}: expected NAME=STRENGTH or NAME=STRENGTH@FIRST-LAST, e.g. wood=-2@6-11")
    strength = limits.check_strength(float(m["strength"]), StrataError, f"--edit {text!r}: strength")
    layers = None
    if m["first"] is not None:
        first = limits.check_layer(int(m["first"]), StrataError, f"--edit {text!r}: layer")
        last = limits.check_layer(int(m["last"]), StrataError, f"--edit {text!r}: layer") \
            if m["last"] is not None else first
        layers = (first, last)
    return m["name"].strip(), strength, layers


def check_output(path: str) -> Path:
    """The ``-o`` path, refused unless it ends in ``.png`` and is new or a regular file."""
    import os
    import stat

    from strata.engine.core.errors import StrataError

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise StrataError(f"-o {path}: strata render writes PNG images; give a name ending in .png")
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise StrataError(f"-o {path}: cannot be checked ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise StrataError(f"-o {path}: exists and is not a regular file; strata render writes only a new "
                          "file or replaces a regular one")
    return out


def _cmd_render(argv: list[str]) -> int:
    from strata.engine.core import limits
    from strata.engine.core.errors import StrataError

    args = _render_parser().parse_args(argv)
    # Every argument is checked before torch and the model load: a mistake costs nothing.
    output = check_output(args.output)
    limits.check_upscale(args.upscale, StrataError, field="--upscale")
    if args.seed is not None:
        limits.check_seed(args.seed, StrataError, "--seed")
    if args.truncation is not None:
        limits.check_psi(args.truncation, StrataError, "--truncation")
    if args.class_index is not None:
        limits.check_class(args.class_index, StrataError, "--class")
    for text in args.edit:
        parse_edit(text)

    from strata.assets import default_boundaries_path, default_model_path
    from strata.engine.core.atomic import atomic_write_bytes
    from strata.engine.core.boundary import load_boundaries
    from strata.engine.core.edits import Edit
    from strata.engine.core.render import Renderer
    from strata.engine.core.scene import Code, ModelRef, Scene, load_code_npy, png_bytes_with_recipe, read_recipe

    from .resolve import find_model

    renderer = Renderer(args.device)
    if args.recipe:
        scene = read_recipe(args.recipe)
        model_path = Path(args.model) if args.model else find_model(scene.model, source=args.recipe)
    else:
        scene = None
        model_path = Path(args.model) if args.model else default_model_path()
    model = renderer.load(model_path)
    g = model.generator
    if args.class_index is not None:
        if not getattr(g, "num_classes", 0):
            raise StrataError(f"--class {args.class_index}: {model_path} is not a class-conditional model")
        if not 0 <= args.class_index < g.num_classes:
            raise StrataError(f"--class {args.class_index}: the model has classes 0-{g.num_classes - 1}")
    ref = ModelRef(model.fingerprint, str(model.path), model.name)
    if scene is None:
        if args.latent:
            code = load_code_npy(args.latent, z_dim=g.z_dim, w_dim=g.w_dim, num_layers=g.num_layers,
                                 space=args.latent_space)
        else:
            code = Code.from_seed(args.seed or 0)
        scene = Scene(model=ref, code=code, psi=g.default_psi if args.truncation is None else args.truncation)
    else:
        scene = scene.with_(model=ref)
        if args.truncation is not None:
            scene = scene.with_(psi=args.truncation)
    if args.class_index is not None:
        scene = scene.with_(class_index=args.class_index)  # kept in the saved recipe
    if args.edit:
        sources = args.boundaries or ([str(default_boundaries_path())] if not args.model and default_boundaries_path() else [])
        found = {}
        for src in sources:
            bs, errors = load_boundaries(src)
            for msg in errors:
                print(f"strata: warning: {msg}", file=sys.stderr)
            found.update({b.name: b for b in bs})
        for e in scene.edits:
            found.setdefault(e.boundary.name, e.boundary)
        edits = list(scene.edits)
        for text in args.edit:
            name, strength, layers = parse_edit(text)
            if name not in found:
                known = ", ".join(sorted(found)) or "none (pass --boundaries)"
                raise StrataError(f"--edit {text!r}: no boundary named {name!r}; known: {known}")
            b = found[name]
            b.check_compatible(w_dim=g.w_dim, num_layers=g.num_layers, source=b.provenance or name)
            if layers is None:
                layers = Edit.with_default_layers(b, strength, num_layers=g.num_layers).layers
            if layers[1] >= g.num_layers:
                raise StrataError(f"--edit {text!r}: layers {layers[0]}-{layers[1]} go past the model's "
                                  f"last layer {g.num_layers - 1}")
            edits = [e for e in edits if e.boundary.name != name] + [Edit(b, strength, layers)]
        scene = scene.with_(edits=tuple(edits))
    image, _ = renderer.render_scene(scene)
    limits.check_upscale(args.upscale, StrataError, side=max(image.shape[:2]), field="--upscale")
    atomic_write_bytes(output, png_bytes_with_recipe(image, scene, upscale=args.upscale))
    print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]}, {scene.code.describe()}, "
          f"psi {scene.psi:g}, {len(scene.active_edits)} edit(s))")
    return 0


def _cmd_info(argv: list[str]) -> int:
    from strata.engine.core.device import describe
    from strata.engine.core.models import FORMATS, load_generator

    from strata.assets import default_model_path

    p = argparse.ArgumentParser(prog="strata info", description="Print a model's inferred configuration.")
    p.add_argument("model", nargs="?", help="generator file (default: the bundled model)")
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    m = load_generator(args.model or default_model_path(), args.device)
    g = m.generator
    c = g.config
    res = [4 * 2**i for i in range(len(getattr(c, "channels", ())))]
    print(f"model:        {m.path}")
    print(f"name:         {m.name}")
    print(f"format:       {FORMATS.get(m.format, m.format)}")
    print(f"architecture: {g.architecture}")
    print(f"resolution:   {g.resolution}")
    print(f"z dim:        {g.z_dim}")
    print(f"w dim:        {g.w_dim}")
    print(f"mapping:      {c.mapping_layers} layers")
    print(f"layers (W+):  {g.num_layers}  (resolutions {', '.join(map(str, g.layer_resolutions))})")
    if res:  # StyleGAN3 has no channels per resolution: its layers are listed by sampling rate above
        print(f"channels:     {', '.join(f'{r}px:{ch}' for r, ch in zip(res, c.channels))}")
    if hasattr(c, "fused"):  # StyleGAN (v1) only; StyleGAN2 always up-samples by transposed conv
        print(f"fused up:     {', '.join(f'{r}px' for r, f in zip(res[1:], c.fused) if f) or 'none'}")
    print(f"truncation:   psi {g.default_psi:g} on layers 0-{g.truncation_layers - 1}")
    lod = float(getattr(getattr(g, "synthesis", None), "lod", 0.0))
    if lod > 0:  # a snapshot taken while progressive growing was still below full size
        shown = g.resolution // 2 ** math.ceil(lod)
        print(f"growing:      lod {lod:g}: draws at {shown}px{' fading into ' + str(shown * 2) + 'px' if lod % 1 else ''}, "
              f"blown up to {g.resolution}px (a snapshot taken mid-way through progressive growing)")
    print(f"sha256:       {m.fingerprint}")
    print(f"device:       {describe(g.device)}")
    return 0


def _cmd_analyze(argv: list[str]) -> int:
    from .analyze_cli import main as analyze_main
    return analyze_main(argv)


def _cmd_evaluate(argv: list[str]) -> int:
    from .evaluate_cli import main as evaluate_main
    return evaluate_main(argv)


def _cmd_train(argv: list[str]) -> int:
    from .train_cli import main as train_main
    return train_main(argv)


def _cmd_predictor(argv: list[str]) -> int:
    from .predictor_cli import main as predictor_main
    return predictor_main(argv)


def _cmd_rooms(argv: list[str]) -> int:
    from .rooms_cli import main as rooms_main
    return rooms_main(argv)


def _looks_like_command(word: str) -> bool:
    """A bare word that names no file (``strata frobnicate``): a mistyped command, not a path."""
    p = Path(word)
    return not p.exists() and not p.suffix and "/" not in word and "\\" not in word


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from strata.engine.core.errors import StrataError
    except ImportError as exc:  # a broken install: say so plainly
        print(f"strata: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        if argv and argv[0] in SUBCOMMANDS:
            cmd = {"render": _cmd_render, "info": _cmd_info, "train": _cmd_train,
                   "analyze": _cmd_analyze, "evaluate": _cmd_evaluate, "predictor": _cmd_predictor,
                   "rooms": _cmd_rooms}[argv[0]]
            return cmd(argv[1:])
        if argv and not argv[0].startswith("-") and _looks_like_command(argv[0]):
            print(f"strata: error: unknown command {argv[0][:60]!r} (commands: {', '.join(SUBCOMMANDS)}; "
                  "to open a file, give its path)", file=sys.stderr)
            return 2
        args = _gui_parser().parse_args(argv)
        from .main import run_gui
        return run_gui(path=args.path, screenshot=args.screenshot, device=args.device)
    except StrataError as exc:
        print(f"strata: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        from strata.engine.core.errors import one_line

        print(f"strata: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
