"""`strata evaluate`: the generator's quality figures at the truncations the user names."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from strata import assets
from strata.app.cli import main


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/engine/conftest.py


def test_evaluate_reports_each_psi_asked_for(tmp_path, capsys):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    grid = tmp_path / "grid.png"
    rc = main(["evaluate", "-m", str(assets.default_model_path()), "-n", "60", "--batch-size", "30",
               "--psi", "0.3", "--psi", "1", "--json", str(out), "--markdown", str(md), "--grid", str(grid)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert list(r["psi"]) == ["0.3", "1"]
    bed = r["frequencies"]["bed"]
    assert set(bed) == {"world_truth", "rendered", "generated_psi_0.3", "generated_psi_1"}
    # Truncation narrows the samples toward the average room: KID from the rendered set grows.
    assert r["psi"]["0.3"]["kid"][0] > r["psi"]["1"]["kid"][0]
    text = md.read_text()
    assert "generated ψ=0.3 (predictor)" in text and "| generated ψ=1 vs rendered |" in text
    assert "--psi 0.3 --psi 1" in text  # the command that reproduces the table
    w, h = Image.open(grid).size
    assert w == h >= 4 * 64 * 2  # 4x4 samples of 64 px, shown at twice their size


def test_evaluate_refuses_a_psi_that_is_not_a_number(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--psi", "nan"])
    assert "--psi takes finite numbers" in capsys.readouterr().err


def test_evaluate_reads_the_predictor_file_it_is_given(tmp_path, capsys):
    """`--predictor-file PTH` reads the rooms with that predictor (a model trained against the shipped
    predictor's features is checked with another one), and says which in the report."""
    from strata.engine.rooms.predictor import RoomsPredictor

    torch.manual_seed(0)
    untrained = tmp_path / "untrained.pth"
    RoomsPredictor().save(untrained)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["evaluate", "-n", "40", "--batch-size", "40", "--psi", "1", "--predictor-file", str(untrained),
                 "--json", str(out), "--markdown", str(md)]) == 0
    r = json.loads(out.read_text())
    # The shipped predictor reads rendered rooms within a few hundredths of the truth; an untrained one cannot.
    assert max(abs(f["rendered"] - f["world_truth"]) for f in r["frequencies"].values()) > 0.3
    assert str(untrained) in r["predictor"] and str(untrained) in md.read_text()

    capsys.readouterr()
    assert main(["evaluate", "-n", "40", "--predictor-file", str(tmp_path / "missing.pth")]) == 1
    err = capsys.readouterr().err
    assert "missing.pth" in err and "Traceback" not in err
