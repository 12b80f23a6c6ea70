import subprocess
import sys

SCRIPT = r"""
import sys
from PySide6 import QtCore
from strata.widgets._pyside_compat import protect_bools
emits = sys.getrefcount(True) + 100  # more emits than True has references
if sys.argv[1] == "protect":
    protect_bools()

class Emitter(QtCore.QObject):
    changed = QtCore.Signal(float)

e = Emitter()
e.changed.connect(lambda v: None)
for _ in range(emits):
    e.changed.emit(1.0)
print("survived")
"""


def test_many_signal_emits_do_not_abort_the_interpreter():
    # Fails without protect_bools on PySide6 6.12 / CPython 3.11 (exit status 134, bool_dealloc).
    done = subprocess.run([sys.executable, "-c", SCRIPT, "protect"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-500:]
