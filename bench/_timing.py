"""What the training benchmarks share: a per-epoch wall/CPU clock for Keras's ``fit``, and the load line.

Imported as ``from _timing import ...`` by the scripts in ``bench/`` (run as ``python bench/<name>.py``,
which puts this folder first on ``sys.path``).
"""

from __future__ import annotations

import os
import time


def epoch_clock(keras, wall: list[float], cpu: list[float]):
    """A Keras callback that appends each epoch's wall and CPU (process) seconds to ``wall`` and ``cpu``."""

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            wall.append(time.perf_counter() - self.t)
            cpu.append(time.process_time() - self.c)

    return Clock()


def load_line(before) -> str:
    """``Load (1/5/15 min) before: a / b / c; after: d / e / f.``, with ``before`` from ``os.getloadavg()``."""
    after = os.getloadavg()
    return (
        f"Load (1/5/15 min) before: {' / '.join(f'{v:.2f}' for v in before)}; "
        f"after: {' / '.join(f'{v:.2f}' for v in after)}."
    )
