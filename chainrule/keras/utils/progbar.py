"""The progress line fit, evaluate and predict print, in Keras 3's format::

    469/469 ━━━━━━━━━━━━━━━━━━━━ 2s 4ms/step - accuracy: 0.9245 - loss: 0.2606

On a terminal the line is redrawn in place (``\\r``), at most every 0.05 s, with the
colours Keras uses. Anywhere else (a log file, CI, a pipe) only the finished line is
written, as plain text, so logs hold whole lines without control characters. Under an MPI
launcher every rank's output is a pseudo-terminal wherever the job's output goes, so there
the bar animates only when ``python -m chainrule.launch`` says the job's output is a
terminal.
"""

import math
import os
import sys
import time

from ...distribute.communicator import TERMINAL_VARIABLE, launched_by_mpi

__all__ = ["Progbar", "animates", "format_value"]

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def format_value(value):
    """A metric value as Keras shows it: 4 decimals, or scientific when tiny."""
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_step_time(seconds, unit="step"):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_eta(seconds):
    if seconds > 3600:
        return f"{int(seconds) // 3600}:{int(seconds) % 3600 // 60:02d}:{int(seconds) % 60:02d}"
    if seconds > 60:
        return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"
    return f"{seconds:.0f}s"


def animates(stream):
    """Whether a progress line on ``stream`` is redrawn in place: when ``stream`` is a
    terminal, and under an MPI launcher (whose ranks all write to pseudo-terminals, whatever
    the job's output is) only when ``python -m chainrule.launch`` says that output is one."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return False
    return not launched_by_mpi() or os.environ.get(TERMINAL_VARIABLE) == "1"


class Progbar:
    """A progress line for ``target`` steps.

    Args:
        target: the number of steps.
        verbose: 1 for the bar, 2 for one line when finished, 0 for nothing.
        width: characters in the bar.
        interval: the shortest time between two redraws on a terminal, in seconds.
        stream: where to write (default ``sys.stdout``).
        dynamic: redraw in place; default: whether ``stream`` is a terminal (see
            :func:`animates`).
    """

    def __init__(self, target, verbose=1, width=20, interval=0.05, unit_name="step",
                 stream=None, dynamic=None):
        self.target, self.verbose, self.width = target, verbose, width
        self.interval, self.unit_name = interval, unit_name
        self.stream = stream if stream is not None else sys.stdout
        self.dynamic = animates(self.stream) if dynamic is None else dynamic
        self._start = time.perf_counter()
        self._after_first_step = None
        self._last_draw = 0.0
        self._drawn_width = 0

    def update(self, current, values=None, finalize=None):
        """Shows step ``current`` with ``values`` (a list of (name, number) pairs)."""
        if finalize is None:
            finalize = current >= self.target
        now = time.perf_counter()
        if current == 1 and self._after_first_step is None:
            self._after_first_step = now
        if self.verbose == 0 or (self.verbose == 2 and not finalize):
            return
        if not finalize and (not self.dynamic or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        per_step = self._time_per_step(current, now)
        metrics = "".join(f" - {name}: {format_value(v)}" for name, v in values or ())
        if self.verbose == 2:
            line = (f"{self._counter(current)} - {now - self._start:.0f}s - "
                    f"{format_step_time(per_step, self.unit_name)}{metrics}")
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        if finalize:
            timing = f"{now - self._start:.0f}s"
        else:
            timing = format_eta(per_step * (self.target - current))
        line = (f"{self._counter(current)} {self._bar(current)} {self._bold(timing)} "
                f"{format_step_time(per_step, self.unit_name)}{metrics}")
        self._write(line, finalize)

    def _time_per_step(self, current, now):
        # The first step (warm-up, building weights) is left out once there are others.
        if current > 1 and self._after_first_step is not None:
            return (now - self._after_first_step) / (current - 1)
        return (now - self._start) / max(current, 1)

    def _counter(self, current):
        digits = int(math.log10(max(self.target, 1))) + 1
        return self._bold(f"{current:{digits}d}/{self.target}")

    def _bar(self, current):
        done = int(self.width * min(current / max(self.target, 1), 1.0))
        if not self.dynamic:  # no colours: the part still to do is drawn thin
            return "━" * done + "─" * (self.width - done)
        filled = f"{_GREEN}{'━' * done}{_RESET}" if done else ""
        return filled + f"{_GREY}{'━' * (self.width - done)}{_RESET}"

    def _bold(self, text):
        return f"{_BOLD}{text}{_RESET}" if self.dynamic and self.verbose == 1 else text

    def _write(self, line, finalize):
        if self.dynamic:
            # Overwrite the previous drawing; pad in case the new line is shorter.
            pad = max(self._drawn_width - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._drawn_width = 0 if finalize else len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
