"""Who is watching the ops: the recorders and listeners of the current thread.

Every primitive call tells the *recorders* of its thread (gradient tapes, graph tracers);
every in-place Variable update and every read of a tensor's value into Python tells the
*listeners* (graph tracers). Both lists are per thread, as TensorFlow's and PyTorch's tapes
are: two threads that each record or train never see each other's ops.

The change clock is process-wide: it orders in-place Variable changes, so a tape can tell
that a Variable it read has changed since.
"""

import contextlib
import threading

__all__ = ["recorders", "listeners", "paused_recorders", "mark_changed", "change_clock"]


class _PerThread(threading.local):
    def __init__(self):
        # Objects with `_record(prim, inputs, params, out)`, notified of every op.
        self.recorders = []
        # Objects told of every in-place Variable update just before it happens
        # (`_record_update(variable, kind, value, index)`), of every effect made outside the
        # op table (`_record_effect(effect, inputs, params)`), and of every read of a traced
        # value into Python (`_record_read(tensor, what)`).
        self.listeners = []


state = _PerThread()
_clock = [0]
_clock_lock = threading.Lock()


def recorders():
    """This thread's recorder list (live: tapes append and remove themselves)."""
    return state.recorders


def listeners():
    return state.listeners


def change_clock():
    return _clock[0]


def mark_changed(variable):
    """Stamps ``variable`` as changed now (after an in-place update)."""
    with _clock_lock:
        _clock[0] += 1
        variable._changed = _clock[0]


def mark_all_changed(variables):
    """Stamps each of ``variables`` as changed now, with one tick of the clock (updated
    together, by one loop)."""
    with _clock_lock:
        _clock[0] += 1
        now = _clock[0]
    for variable in variables:
        variable._changed = now


class paused_recorders:
    """Turns this thread's recorders off for a moment: what runs inside is not part of any
    record (an explanation's own sweep; a layer drawing its initial weights in a trace)."""

    def __enter__(self):
        self._saved = state.recorders
        state.recorders = []

    def __exit__(self, *exc):
        state.recorders = self._saved
        return False


@contextlib.contextmanager
def only(recorder, listener):
    """Runs the block with ``recorder`` and ``listener`` as this thread's only ones (a
    trace: outer tapes must not see the tracing run)."""
    saved = state.recorders, state.listeners
    state.recorders, state.listeners = [recorder], [listener]
    try:
        yield
    finally:
        state.recorders, state.listeners = saved


def announce_update(variable, kind, value, index=None):
    for listener in state.listeners:
        listener._record_update(variable, kind, value, index)


def announce_effect(effect, inputs, params):
    """Tells the listeners of an in-place update made by code outside the op table (an
    optimizer's step), just before it happens. ``effect`` has ``apply(*inputs, **params)``
    (what it does) and ``changes(*inputs, **params)`` (the Variables it changes); see
    :class:`chainrule.graph.VariableUpdate`."""
    for listener in state.listeners:
        listener._record_effect(effect, inputs, params)


def announce_read(tensor, what):
    for listener in state.listeners:
        listener._record_read(tensor, what)


@contextlib.contextmanager
def unannounced_updates():
    """Updates made inside are not announced: an effect that was announced as one node
    runs its own ``assign`` calls in here."""
    saved = state.listeners
    state.listeners = []
    try:
        yield
    finally:
        state.listeners = saved
