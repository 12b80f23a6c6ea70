import random

from PySide6 import QtCore
from qtwidget_helpers import Recorder

from strata.widgets.seed_box import SEED_MAX, SeedBox


def make_box(qtbot, seed=10, rng=None):
    box = SeedBox(seed=seed, rng=rng)
    qtbot.addWidget(box)
    box.show()
    return box


def test_next_and_previous_step_the_seed(qtbot):
    box = make_box(qtbot, seed=10)
    with qtbot.waitSignal(box.seedChanged, timeout=500) as blocker:
        qtbot.mouseClick(box._next, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == [11]
    with qtbot.waitSignal(box.seedChanged, timeout=500) as blocker:
        qtbot.mouseClick(box._prev, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == [10]
    assert box.seed() == 10


def test_random_picks_a_new_seed_in_range(qtbot):
    box = make_box(qtbot, seed=5, rng=random.Random(0))
    rec = Recorder(box.seedChanged)
    for _ in range(5):
        qtbot.mouseClick(box._random, QtCore.Qt.MouseButton.LeftButton)
    seeds = [args[0] for args in rec.calls]
    assert len(seeds) == 5
    assert all(0 <= s <= SEED_MAX for s in seeds)
    assert 5 not in seeds and len(set(seeds)) == 5
    assert box.seed() == seeds[-1]


def test_typing_emits_at_once(qtbot):
    box = make_box(qtbot, seed=0)
    rec = Recorder(box.seedChanged)
    box._spin.lineEdit().selectAll()
    qtbot.keyClicks(box._spin.lineEdit(), "123")
    assert rec.last == (123,)


def test_set_seed_does_not_emit_and_clamps(qtbot):
    box = make_box(qtbot)
    with qtbot.assertNotEmitted(box.seedChanged):
        box.set_seed(77)
        box.set_seed(-4)
        assert box.seed() == 0
        box.set_seed(2**40)
        assert box.seed() == SEED_MAX


def test_step_buttons_stop_at_the_ends(qtbot):
    box = make_box(qtbot, seed=0)
    assert not box._prev.isEnabled() and box._next.isEnabled()
    box.set_seed(SEED_MAX)
    assert box._prev.isEnabled() and not box._next.isEnabled()


def test_disabling_the_box_disables_every_control(qtbot):
    box = make_box(qtbot, seed=3)
    box.setEnabled(False)
    assert not any(w.isEnabled() for w in (box._spin, box._prev, box._next, box._random))
    box.setEnabled(True)
    assert all(w.isEnabled() for w in (box._spin, box._prev, box._next, box._random))


def test_buttons_have_icons_and_tooltips(qtbot):
    box = make_box(qtbot)
    for button in (box._prev, box._next, box._random):
        assert not button.icon().isNull()
        assert button.toolTip()
