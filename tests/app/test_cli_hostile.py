"""The command line, run as `strata` in a subprocess, against the inputs of a hostile or careless user.

Every case ends in one line on stderr and a non-zero exit (or a correct result), never a
traceback, never a hang and never a destroyed file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strata.engine.core.errors import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.timeout(300)

STRATA = Path(sys.executable).with_name("strata")


def strata(*args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STRATA_STATE_DIR=str(Path(cwd) / "state"))
    return subprocess.run([str(STRATA), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in err and "\n" not in err, err
    assert len(err) <= MAX_MESSAGE_CHARS + 40, len(err)
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with a good scene (rendered once) and the hostile files built from its recipe."""
    d = tmp_path_factory.mktemp("cli")
    from strata.app.cli import main

    assert main(["render", "--seed", "7", "-o", str(d / "good.png")]) == 0  # in-process: one start saved
    from strata.engine.core.scene import read_recipe

    recipe = read_recipe(d / "good.png").to_dict()
    seed = dict(recipe, code={"space": "z", "seed": 1})
    del seed["checksum"]
    (d / "seed1e400.json").write_text(json.dumps(seed).replace('"seed": 1', '"seed": 1e400'))
    (d / "seed5000.json").write_text(json.dumps(seed).replace('"seed": 1', '"seed": ' + "9" * 5000))
    (d / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (d / "long.json").write_text(json.dumps(dict(seed, model={"fingerprint": "x" * 100_000})))
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    raw = header.encode() + b" " * (-(len(header) + 11) % 64) + b"\n"
    (d / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw)
    if hasattr(os, "mkfifo"):
        os.mkfifo(d / "fifo.pth")
        os.mkfifo(d / "fifo.json")
        os.mkfifo(d / "fifo.png")
    (d / "folder.png").mkdir()
    return d


RENDER_CASES = [
    (["--recipe", "seed1e400.json"], ["seed1e400.json", "seed"]),
    (["--recipe", "seed5000.json"], ["seed5000.json", "digits"]),
    (["--recipe", "deep.json"], ["deep.json", "nests", "limit of 64"]),
    (["--recipe", "/dev/zero"], ["/dev/zero", "regular files only"]),
    (["--truncation", "1e39"], ["--truncation"]),
    (["--truncation", "nan"], ["--truncation"]),
    (["--upscale", "100000"], ["--upscale 100000", "1 to 16"]),
    (["--upscale", "0"], ["--upscale 0"]),
    (["--upscale", "-5"], ["--upscale -5"]),
    (["--seed", "-1"], ["--seed -1"]),
    (["--edit", "wood_floor=1e30"], ["strength"]),
    (["--latent", "huge.npy"], ["huge.npy", "1,000,000,000,000 elements"]),
]


@pytest.fixture(scope="module")
def render_runs(work):
    """Every case of RENDER_CASES run at once (each is a process of its own; they wait on imports)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda case: strata("render", *case[0], "-o", "out.png", cwd=work), RENDER_CASES))
    return runs


@pytest.mark.parametrize("case", range(len(RENDER_CASES)), ids=[" ".join(a) for a, _ in RENDER_CASES])
def test_render_refuses_bad_arguments_in_one_line(work, render_runs, case):
    refused(render_runs[case], *RENDER_CASES[case][1])
    assert not (work / "out.png").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_model_or_recipe_is_refused_at_once(work):
    refused(strata("info", "fifo.pth", cwd=work), "fifo.pth", "FIFO")
    refused(strata("render", "--recipe", "fifo.json", "-o", "out.png", cwd=work), "fifo.json", "FIFO")


@pytest.mark.parametrize("target, needle", [("/dev/null", ".png"), ("out.jpg", ".png"),
                                            ("folder.png", "not a regular file"),
                                            ("fifo.png", "not a regular file")])
def test_output_that_is_not_a_new_or_regular_png_file_is_refused(work, target, needle):
    if target == "fifo.png" and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    refused(strata("render", "-o", target, cwd=work), needle)
    assert (work / "folder.png").is_dir()


def test_a_refusal_quoting_a_100_kb_field_is_one_short_line(work, capsys):
    from strata.app.cli import main

    assert main(["render", "--recipe", str(work / "long.json"), "-o", str(work / "out.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert "long.json" in err and "\n" not in err and len(err) <= MAX_MESSAGE_CHARS + 40


def test_an_unknown_command_is_named(work):
    err = refused(strata("frobnicate", cwd=work), "unknown command 'frobnicate'", "render")
    assert "usage" not in err.lower()


def test_a_model_with_a_wrong_type_in_its_configuration(work):
    import torch

    from strata.assets import default_model_path

    blob = torch.load(default_model_path(), weights_only=True)
    blob["config"]["channels"] = "wide"
    torch.save(blob, work / "badcfg.pth")
    refused(strata("info", "badcfg.pth", cwd=work), "badcfg.pth", "configuration")


def test_random_bytes_and_a_cut_model_say_what_they_are(work):
    from strata.assets import default_model_path

    (work / "random.pth").write_bytes(np.random.RandomState(0).bytes(4096))
    (work / "cut.pth").write_bytes(default_model_path().read_bytes()[:100_000])
    assert "not a model file" in refused(strata("info", "random.pth", cwd=work), "random.pth")
    assert "corrupt or truncated" in refused(strata("info", "cut.pth", cwd=work), "cut.pth")


def test_a_good_render_still_writes_and_reads_back(work):
    proc = strata("render", "--recipe", "good.png", "--upscale", "2", "-o", "again.png", cwd=work)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    from strata.engine.core.scene import read_recipe

    assert Image.open(work / "again.png").size == (128, 128)
    assert read_recipe(work / "again.png").code.seed == 7
    assert not [p for p in work.iterdir() if ".tmp-" in p.name]
