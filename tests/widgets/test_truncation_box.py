import pytest
from PySide6 import QtCore
from qtwidget_helpers import Recorder, drag, slider_handle_center

from strata.widgets.truncation_box import TruncationBox


def make_box(qtbot, psi=0.7):
    box = TruncationBox(psi=psi)
    qtbot.addWidget(box)
    box.resize(400, 40)
    box.show()
    qtbot.waitExposed(box)
    return box


def test_dragging_emits_before_release(qtbot):
    box = make_box(qtbot, psi=0.2)
    rec = Recorder(box.psiChanged)
    slider = box._slider._slider
    start = slider_handle_center(slider)
    end = QtCore.QPoint(slider.width() - 20, start.y())
    seen_during = []
    drag(qtbot, slider, start, end, during=lambda: seen_during.extend(rec.calls))
    assert len(seen_during) >= 3
    values = [args[0] for args in seen_during]
    assert values == sorted(values) and values[-1] > 1.0
    assert all(v == round(v, 2) for v in values)
    assert box.psi() == rec.last[0]


def test_typing_a_value_emits(qtbot):
    box = make_box(qtbot)
    rec = Recorder(box.psiChanged)
    field = box._slider._label
    field.selectAll()
    qtbot.keyClicks(field, "1.25")
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Return)
    assert rec.last == (1.25,)
    assert box.psi() == 1.25


def test_set_psi_does_not_emit_and_clamps(qtbot):
    box = make_box(qtbot)
    with qtbot.assertNotEmitted(box.psiChanged):
        box.set_psi(0.5)
        assert box.psi() == 0.5
        box.set_psi(3.0)
        assert box.psi() == 1.5
        box.set_psi(-1)
        assert box.psi() == 0.0


def test_keys_step_the_value(qtbot):
    box = make_box(qtbot, psi=0.7)
    rec = Recorder(box.psiChanged)
    for target in (box._slider, box._slider._slider):  # wrapper or groove focused
        qtbot.keyClick(target, QtCore.Qt.Key.Key_Right)
    assert [args[0] for args in rec.calls] == [0.71, 0.72]
    qtbot.keyClick(box._slider, QtCore.Qt.Key.Key_PageDown)
    assert rec.last[0] == pytest.approx(0.62)
    qtbot.keyClick(box._slider, QtCore.Qt.Key.Key_End)
    assert rec.last[0] == 1.5


def test_a_40px_drag_moves_psi_by_at_most_0_2_even_at_the_smallest_size(qtbot):
    box = TruncationBox(psi=0.85)
    qtbot.addWidget(box)
    box.resize(box.minimumSizeHint().width(), 40)  # squeezed as far as the layout allows
    box.show()
    qtbot.waitExposed(box)
    rec = Recorder(box.psiChanged)
    slider = box._slider._slider
    start = slider_handle_center(slider)
    drag(qtbot, slider, start, QtCore.QPoint(start.x() - 40, start.y()))
    assert rec.calls, "the drag moved nothing"
    assert 0.0 < 0.85 - box.psi() <= 0.2


def test_values_past_1_stay_reachable_by_typing_and_keys(qtbot):
    box = make_box(qtbot, psi=1.0)
    field = box._slider._label
    field.selectAll()
    qtbot.keyClicks(field, "1.4")
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Return)
    assert box.psi() == 1.4
    qtbot.keyClick(box._slider, QtCore.Qt.Key.Key_End)
    assert box.psi() == 1.5
