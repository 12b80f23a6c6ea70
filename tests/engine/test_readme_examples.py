"""The README's command-line examples run as written against the bundled model."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
from PIL import Image

from strata.app.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _command_lines(prefix: str) -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(prefix):
            lines.append(shlex.split(line)[1:])  # drop "strata"
    return lines


def test_readme_render_examples_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lines = _command_lines("strata render")
    assert len(lines) >= 3
    # The --latent example reads a wp exported from the editor (File > Export wp):
    # the bundled model's W+ is [1, 10, 128].
    from strata.engine.core.models import load_generator
    from strata.assets import default_model_path
    g = load_generator(default_model_path(), "cpu").generator
    np.save(tmp_path / "wp.npy", np.random.default_rng(0).standard_normal((1, g.num_layers, g.w_dim)).astype("float32"))
    for argv in lines:
        assert main(argv) == 0, (argv, capsys.readouterr().err)
        out = tmp_path / argv[argv.index("-o") + 1]
        assert Image.open(out).size == (g.resolution, g.resolution)


def test_readme_edit_example_changes_the_scene(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    edited = next(a for a in _command_lines("strata render") if "-e" in a)
    plain = [a for i, a in enumerate(edited) if a != "-e" and (i == 0 or edited[i - 1] != "-e")]
    plain[plain.index("-o") + 1] = "plain.png"
    assert main(plain) == 0 and main(edited) == 0
    a = np.asarray(Image.open("plain.png").convert("RGB")).astype(int)
    b = np.asarray(Image.open(edited[edited.index("-o") + 1]).convert("RGB")).astype(int)
    assert np.abs(a - b).mean() > 1


def test_info_without_a_path_describes_the_bundled_model(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "rooms64_generator.pth" in out
    assert "resolution:   64" in out
    assert "layers (W+):  10" in out


def test_readme_info_example_runs_as_written(capsys):
    for argv in _command_lines("strata info"):
        assert main(argv) == 0
