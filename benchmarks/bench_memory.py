"""Peak resident memory of the editor window, with the bundled model and with a 256 px model.

    python benchmarks/bench_memory.py [--higan256] [--device cpu]

Starts the main window offscreen in a fresh process (as ``strata`` does),
opens the model, and waits for its first frame; then asks for the preview
strip of a row, ten slider frames in the fast precision and the exact frame
after them, and prints the process's peak resident set size (``ru_maxrss``)
and the model's parameter bytes. ``--higan256`` opens random weights in the
architecture of HiGAN's 256 px StyleGAN bedroom model instead of the bundled
model.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--higan256", action="store_true")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import numpy as np
    import torch
    from PySide6 import QtCore, QtWidgets

    from strata import assets
    from strata.app.window import MainWindow
    from strata.engine.core.boundary import Boundary
    from strata.engine.core.edits import Edit
    from strata.engine.core.strip import DEFAULT_STRENGTHS

    model = assets.default_model_path()
    if args.higan256:
        from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator

        torch.manual_seed(0)
        model = Path(tempfile.mkdtemp()) / "bedroom256_random.pth"
        torch.save(StyleGANGenerator(StyleGANConfig.simple(256)).state_dict(), model)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(model, [], device=args.device, settings=settings)
    win.resize(1280, 760)
    win.show()

    def settle(timeout=120.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents()
            if win.engine.worker.idle() and win.engine.strip_worker.idle():
                app.processEvents()
                return
            time.sleep(0.01)

    settle()
    phases = {"first frame": _peak_mib()}
    eng = win.engine
    g = eng.renderer.model.generator
    L = g.num_layers
    from strata.engine.core.scene import Code, Scene

    b = Boundary("bench", np.random.RandomState(0).randn(g.w_dim))
    base = Scene(code=Code.from_seed(0), psi=0.7, edits=(Edit(b, 0.0, (min(6, L - 1), min(11, L - 1))),))
    path = str(eng.renderer.model.path)
    eng.request(path, base)
    eng.request_strip(path, base, 0, DEFAULT_STRENGTHS)
    settle()
    phases["strip"] = _peak_mib()
    for i in range(10):
        try:
            eng.request(path, base.with_edit(0, strength=0.3 * i), precision="fast")
        except TypeError:  # an engine without the fast precision
            eng.request(path, base.with_edit(0, strength=0.3 * i))
        settle()
    phases["fast frames"] = _peak_mib()
    eng.request(path, base.with_edit(0, strength=3.0))
    settle()
    phases["exact frame"] = _peak_mib()
    params = sum(t.numel() * t.element_size() for t in g.parameters())
    print(f"model: {Path(path).name} ({g.resolution} px), parameters {params / 2**20:.1f} MiB; "
          f"window peak resident memory {_peak_mib():.0f} MiB (after " +
          ", ".join(f"{k}: {v:.0f}" for k, v in phases.items()) + ")")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
