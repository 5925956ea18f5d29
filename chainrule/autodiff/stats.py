"""What a GradientTape holds (``tape.stats()``), and a warning for a persistent tape kept
across many training steps: it keeps every op it records, and the arrays they read, until
it is dropped."""

import warnings
from dataclasses import dataclass

from ..variable import Variable

# A persistent tape that has seen this many Variable updates (optimizer steps) while
# recording, or holds this many records, is almost surely kept by mistake.
MANY_UPDATES = 50
MANY_RECORDS = 1_000_000


@dataclass(frozen=True)
class TapeStats:
    """``ops_recorded``: records kept for the backward pass; ``saved_bytes``: bytes of the
    arrays those records keep alive (Variables' own values not counted); ``saved_arrays``:
    how many; ``watched_variables`` / ``watched_tensors``: the sources; ``updates_seen``:
    in-place Variable changes (optimizer steps) between records; ``persistent``;
    ``released``: a one-shot tape after its gradient() (it then holds nothing)."""

    ops_recorded: int
    saved_bytes: int
    saved_arrays: int
    watched_variables: int
    watched_tensors: int
    updates_seen: int
    persistent: bool
    released: bool

    def __str__(self):
        if self.released:
            return "GradientTape: released by gradient() (holds nothing)"
        return (f"GradientTape{' (persistent)' if self.persistent else ''}: "
                f"{self.ops_recorded} ops recorded, {self.saved_arrays} saved arrays "
                f"({_size(self.saved_bytes)}), {self.watched_variables} watched Variables, "
                f"{self.watched_tensors} watched tensors, {self.updates_seen} Variable "
                f"updates seen while recording")


def of(tape):
    """The :class:`TapeStats` of ``tape`` now."""
    records = tape._records
    if records is None:
        return TapeStats(0, 0, 0, 0, 0, 0, tape._persistent, True)
    arrays = {}
    for _prim, inputs, _params, out, _needs in records:
        for t in inputs + (out,):
            if not isinstance(t, Variable):
                arrays[id(t._value)] = t._value.nbytes
    watched = tape._watched.values()
    variables = sum(isinstance(t, Variable) for t in watched)
    return TapeStats(len(records), sum(arrays.values()), len(arrays), variables,
                     len(watched) - variables, max(len(tape._clock_marks) - 1, 0),
                     tape._persistent, False)


def check_growth(tape):
    """Called by the tape when a Variable changed between two of its records (rare): warns
    once when a persistent tape has lived through many updates or grown huge."""
    if not tape._persistent or getattr(tape, "_warned_growth", False):
        return
    if len(tape._clock_marks) > MANY_UPDATES or len(tape._records) > MANY_RECORDS:
        tape._warned_growth = True
        now = of(tape)
        warnings.warn(
            f"a GradientTape(persistent=True) has kept recording across "
            f"{now.updates_seen} Variable updates (optimizer steps); it now holds "
            f"{now.ops_recorded} ops and {now.saved_arrays} arrays ({_size(now.saved_bytes)}). "
            f"A persistent tape keeps every op and array it records until it is "
            f"dropped. Open a new tape for each training step (`with tf.GradientTape() as "
            f"tape:` inside the loop), or call tape.reset().", UserWarning, stacklevel=4)


def _size(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
