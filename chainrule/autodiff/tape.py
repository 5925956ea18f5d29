"""GradientTape: records the ops run on watched tensors and differentiates them in reverse.

The record is a flat list, in execution order, of ``(primitive, inputs, params, output,
needs)`` tuples, where ``needs[i]`` says whether input ``i`` depends on a watched source.
Execution order is already a topological order, so :meth:`GradientTape.gradient` sweeps
the list backwards once, with no recursion, adding up the gradients of tensors that were
used more than once (the chain rule's "sum over paths").
"""

import contextlib
import warnings

from .. import nest, ops, recording
from ..recording import paused_recorders
from ..tensor import Tensor
from ..variable import Variable
from . import stats as _stats
from .explain import PathTrace, explain as explain_path

__all__ = ["GradientTape", "UnconnectedGradients", "sweep"]


class UnconnectedGradients:
    """What ``gradient`` returns for a source the target does not depend on."""

    NONE = "none"  # None, as TensorFlow does
    ZERO = "zero"  # zeros of the source's shape
    RAISE = "raise"  # an error that says why the source is unconnected


class GradientTape:
    """Records operations for automatic differentiation.

    Operations run inside ``with GradientTape() as tape:`` on *watched* tensors are
    recorded; ``tape.gradient(target, sources)`` then returns d target / d source for each
    source, in the structure ``sources`` was given in (a tensor, list, tuple or dict).
    Trainable Variables are watched as soon as an op reads them (unless
    ``watch_accessed_variables=False``); other tensors must be ``watch``-ed.

    A tape can be used for one ``gradient`` (or ``jacobian``) call unless
    ``persistent=True``. Tapes nest: a gradient computed inside an outer tape's block is
    itself recorded by the outer tape, which gives higher derivatives.

    >>> import chainrule as cr
    >>> x = cr.Variable(3.0)
    >>> with cr.GradientTape() as tape:
    ...     y = x * x
    >>> float(tape.gradient(y, x))
    6.0
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._auto_watch = watch_accessed_variables
        self._recording = False
        self.reset()

    # -- recording -----------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise RuntimeError("this GradientTape is already recording; nest a new tape instead")
        self._start()
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _start(self):
        self._recording = True
        # The thread that opened the block records into it (recording is per thread).
        self._recorders = recording.recorders()
        self._recorders.append(self)

    def _stop(self):
        if self._recording:
            self._recording = False
            if self in self._recorders:
                self._recorders.remove(self)

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops run inside this block are not recorded."""
        if not self._recording:
            raise RuntimeError("stop_recording() needs a tape that is recording (inside its block)")
        self._stop()
        try:
            yield
        finally:
            self._start()

    def reset(self):
        """Forgets everything recorded and watched so far; recording continues."""
        self._records = []
        self._clock_marks = []  # (record index, Variable change clock) where the clock moved
        self._connected = {}  # id -> tensor, for every tensor that depends on a watched one
        self._watched = {}  # id -> tensor, the sources (watched explicitly or auto-watched)
        # id -> (primitive, inputs, output) for results that depend on a watched tensor only
        # through a non-differentiable op: not needed for gradients, kept so that
        # explain() can name the op that cut the path.
        self._blocked = {}
        self._cuts = []  # (primitive, input id, output id): edges where the last sweep stopped
        self._trace = None  # what explain() keeps after a one-shot tape is released
        self._used = False

    def watch(self, tensor):
        """Watches a tensor or Variable (or a nested list/tuple/dict of them)."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"watch() takes tensors or Variables, not {type(t).__name__}")
            if t.dtype.kind not in "fc":
                warnings.warn(f"watch(): the watched tensor has dtype {t.dtype}, but only "
                              f"floating tensors have gradients; it is ignored", stacklevel=2)
                continue
            self._watched[id(t)] = t
            self._connected[id(t)] = t

    def stats(self):
        """What the tape holds now: ops recorded, bytes of saved arrays, watched Variables
        (a :class:`chainrule.autodiff.stats.TapeStats`; print it for one line)."""
        return _stats.of(self)

    def watched_variables(self):
        """The Variables this tape watches, in the order it first saw them."""
        return tuple(t for t in self._watched.values() if isinstance(t, Variable))

    def _record(self, prim, inputs, params, out):
        connected = self._connected
        needs = [id(x) in connected for x in inputs]
        if self._auto_watch:
            for i, x in enumerate(inputs):
                if not needs[i] and isinstance(x, Variable) and x.trainable and x.dtype.kind == "f":
                    self._watched[id(x)] = x
                    connected[id(x)] = x
                    needs[i] = True
        if True in needs:
            if prim.vjp is not None:
                connected[id(out)] = out
                records = self._records
                clock = recording.change_clock()
                marks = self._clock_marks
                if not marks or marks[-1][1] != clock:
                    marks.append((len(records), clock))
                    _stats.check_growth(self)  # a persistent tape kept across steps warns
                records.append((prim, inputs, params, out, tuple(needs)))
            else:
                self._blocked[id(out)] = (prim, inputs, out)
        elif self._blocked:
            # Downstream of a cut: remember it, so explain() can follow the path back.
            blocked = self._blocked
            for x in inputs:
                if id(x) in blocked:
                    blocked[id(out)] = (prim, inputs, out)
                    break

    # -- differentiation -----------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """The gradient of ``target`` with respect to each of ``sources``.

        Args:
            target: a tensor, or a list of tensors whose gradients are summed. A non-scalar
                target is differentiated as the sum of its entries (each seeded with 1).
            sources: a tensor/Variable, or a list, tuple or dict of them (nested allowed);
                the result has the same structure.
            output_gradients: the seed (the gradient flowing into ``target``), same
                structure as ``target``; defaults to ones.
            unconnected_gradients: ``"none"`` (default), ``"zero"`` or ``"raise"``.
        """
        self._check_usable("gradient")
        targets = _flatten(target)
        seeds = _seeds(targets, output_gradients)
        flat_sources = _sources(sources, "gradient")
        self._cuts = []
        grads = self._backward(targets, seeds, flat_sources, self._cuts)
        grads = [self._unconnected(g, s, targets, unconnected_gradients)
                 for g, s in zip(grads, flat_sources)]
        if not self._persistent and any(g is None for g in grads):
            # Keep the shape of the record (ids only) so explain() still works afterwards.
            self._trace = PathTrace.of(self, self._cuts)
        self._release()
        return _unflatten(sources, iter(grads))

    def explain(self, target, source):
        """Says in words why ``gradient(target, source)`` is (or is not) None.

        Works on a persistent tape at any time, on a one-shot tape before ``gradient()``,
        and after ``gradient()`` for a source whose gradient came out None (the tape then
        keeps a small trace of ids, no arrays). See :mod:`chainrule.autodiff.explain`.

        >>> import chainrule as cr
        >>> x = cr.constant(3.0)
        >>> with cr.GradientTape() as tape:
        ...     y = x * x
        >>> print(tape.gradient(y, x))
        None
        >>> print(tape.explain(y, x))  # doctest: +ELLIPSIS
        the Tensor of shape () was not watched: it is a constant ... Call tape.watch(x) ...
        """
        targets = _flatten(target)
        if self._records is not None:
            return explain_path(self._path_trace(targets), targets, source)
        if self._trace is None:
            raise RuntimeError("explain(): this one-shot tape was released by gradient() and "
                               "every gradient it returned was connected, so it kept nothing "
                               "to explain; use GradientTape(persistent=True)")
        return explain_path(self._trace, targets, source)

    def _path_trace(self, targets):
        cuts = []
        with paused_recorders():  # the explanation's own sweep is not part of the record
            self._backward(targets, [ops.ones_like(t) for t in targets], [], cuts)
        return PathTrace.of(self, cuts)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """Full Jacobian: for each source, a tensor of shape ``target.shape + source.shape``."""
        self._check_usable("jacobian")
        target = _as_single(target, "jacobian")
        flat_sources = _sources(sources, "jacobian")
        rows = [[] for _ in flat_sources]
        for seed in _unit_seeds(target.shape, target.dtype):
            for row, g, s in zip(rows, self._backward([target], [seed], flat_sources), flat_sources):
                row.append(g)
        result = []
        for row, s in zip(rows, flat_sources):
            if all(g is None for g in row):
                none = self._unconnected(None, s, target, unconnected_gradients)
                # "zero": zeros of the Jacobian's shape, not of the source's
                result.append(none if none is None else
                              ops.zeros(target.shape + s.shape, dtype=s.dtype))
                continue
            row = [ops.zeros_like(s) if g is None else g for g in row]
            result.append(ops.reshape(ops.stack(row), target.shape + s.shape))
        self._release()
        return _unflatten(sources, iter(result))

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobian: target ``[b, y...]`` and source ``[b, x...]`` give
        ``[b, y..., x...]``; row ``i`` of the target is assumed to depend only on row ``i``
        of the source."""
        self._check_usable("batch_jacobian")
        target = _as_single(target, "batch_jacobian")
        if target.ndim < 1 or source.ndim < 1 or target.shape[0] != source.shape[0]:
            raise ValueError(f"batch_jacobian: target {target.shape} and source {source.shape} "
                             f"need the same first (batch) dimension")
        batch, inner = target.shape[0], target.shape[1:]
        columns = []
        for unit in _unit_seeds(inner, target.dtype):
            seed = ops.broadcast_to(ops.expand_dims(unit, 0), target.shape)
            (g,) = self._backward([target], [seed], [source])
            columns.append(g)
        self._release()
        if all(g is None for g in columns):
            return self._unconnected(None, source, target, unconnected_gradients)
        columns = [ops.zeros_like(source) if g is None else g for g in columns]
        stacked = ops.stack(columns, axis=1) if columns else ops.zeros((batch, 0) + source.shape[1:])
        return ops.reshape(stacked, (batch,) + inner + source.shape[1:])

    def _check_usable(self, what):
        if self._used:
            raise RuntimeError(
                f"GradientTape.{what}() can only be called once on a non-persistent tape: it "
                f"releases what it recorded after the first call. Use "
                f"GradientTape(persistent=True) to differentiate several times.")
        if not self._persistent:
            self._stop()  # the backward pass of a one-shot tape is not recorded by itself

    def _release(self):
        if not self._persistent:
            self._used = True
            # (_watched stays: watched_variables() is asked after gradient(), as in TF.)
            self._records = self._connected = self._blocked = None

    def _backward(self, targets, seeds, sources, cuts=None):
        """One reverse sweep over the record: the gradients of sum(seed * target) for each
        source (see :func:`sweep`)."""
        grads = {}
        for t, seed in zip(targets, seeds):
            _accumulate(grads, t, seed)
        # While recording (a persistent tape inside its block), the sweep's own ops are
        # appended to the record: walk a snapshot.
        records = list(self._records) if self._recording else self._records
        marks = self._clock_marks
        stale = None  # records reading a Variable that has changed since: output id -> why
        if marks and (len(marks) > 1 or marks[0][1] != recording.change_clock()):
            stale = _stale_records(records, marks)
        sweep(records, grads, {id(s) for s in sources}, cuts, stale=stale)
        return [grads.get(id(s)) for s in sources]

    def _unconnected(self, grad, source, target, mode):
        if grad is not None:
            return grad
        mode = getattr(mode, "value", mode)
        if mode == UnconnectedGradients.NONE:
            return None
        if mode == UnconnectedGradients.ZERO:
            return ops.zeros_like(source)
        if mode == UnconnectedGradients.RAISE:
            if self._records is not None:
                why = explain_path(PathTrace.of(self, self._cuts), _flatten(target), source)
            else:
                why = "the target does not depend on it through any recorded differentiable op"
            raise ValueError(f"no gradient for {_describe(source)}: {why}")
        raise ValueError(f"unconnected_gradients must be 'none', 'zero' or 'raise', not {mode!r}")


def sweep(records, grads, keep=None, cuts=None, on_edge=None, stale=None):
    """The reverse sweep, the one every gradient in chainrule comes from: a tape's, and a
    graph's (:func:`chainrule.graph.gradients`, which feeds it the graph's nodes).

    ``records``: ``(primitive, inputs, params, output, needs)`` in execution order;
    ``grads``: ``{id(tensor): gradient}``, seeded with the targets' gradients and filled in
    place. A gradient is dropped once swept past unless its id is in ``keep`` (all are kept
    when ``keep`` is None). ``cuts`` (a list) receives ``(primitive, input id, output id)``
    where a rule gave no gradient for an input that needed one; ``on_edge(record, i, g,
    gi)`` sees each gradient ``gi`` flowing to input ``i``; ``stale`` maps output ids to the
    error to raise on reaching them."""
    for record in reversed(records):
        prim, inputs, params, out, needs = record
        key = id(out)
        g = grads.get(key) if keep is None or key in keep else grads.pop(key, None)
        if g is None:
            continue
        if stale and key in stale:
            raise RuntimeError(stale[key])
        if prim.vjp_wants_needs:
            input_grads = prim.vjp(g, out, *inputs, needs=needs, **params)
        else:
            input_grads = prim.vjp(g, out, *inputs, **params)
        for i, (x, gx, need) in enumerate(zip(inputs, input_grads, needs)):
            if need and gx is not None:
                if on_edge is not None:
                    on_edge(record, i, g, gx)
                _accumulate(grads, x, gx)
            elif need and cuts is not None:
                cuts.append((prim, id(x), key))
    return grads


def _stale_records(records, marks):
    """The records that read a Variable changed in place since they were made (an
    ``assign``, an optimizer step), whose VJPs would use the new value: ``{id(output):
    message}``."""
    stale = {}
    bounds = [index for index, _ in marks[1:]] + [len(records)]
    for (start, clock), stop in zip(marks, bounds):
        for prim, inputs, _params, out, _needs in records[start:stop]:
            for x in inputs:
                if isinstance(x, Variable) and x._changed > clock:
                    stale[id(out)] = (
                        f"GradientTape: Variable '{x.name}' was changed in place (assign, or "
                        f"an optimizer step) after the tape recorded '{prim.name}' reading it, "
                        f"so that op's derivative would use the new value. Take the gradient "
                        f"before changing the Variable, or record the computation again.")
    return stale


def _accumulate(grads, x, g):
    """Adds gradient ``g`` for tensor ``x``, first summing away any broadcasting."""
    shape = x._value.shape  # (the array's plain tuple: this runs once per recorded input)
    if g._value.shape != shape:
        g = unbroadcast(g, shape)
    key = id(x)
    previous = grads.get(key)
    grads[key] = g if previous is None else previous + g


def unbroadcast(g, shape):
    """Sums ``g`` over the axes that broadcasting added to or stretched in ``shape``.

    This is the only place broadcasting is undone: every VJP may return gradients of the
    broadcast result's shape.
    """
    if g.ndim < len(shape):
        return ops.broadcast_to(g, shape)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    if axes:
        g = ops.reduce_sum(g, axes, keepdims=True)
    if g.shape != shape:
        g = ops.reshape(g, shape)
    return g


def _seeds(targets, output_gradients):
    if output_gradients is None:
        return [ops.ones_like(t) for t in targets]
    given = _flatten(output_gradients)
    if len(given) != len(targets):
        raise ValueError(f"output_gradients has {len(given)} entries for {len(targets)} targets")
    seeds = []
    for t, g in zip(targets, given):
        g = ops.ones_like(t) if g is None else ops.convert_to_tensor(g, dtype=t.dtype)
        if g.shape != t.shape:
            raise ValueError(f"output_gradients entry of shape {g.shape} does not match its "
                             f"target's shape {t.shape}")
        seeds.append(g)
    return seeds


def _unit_seeds(shape, dtype):
    """One-hot tensors of ``shape``, one per element, in row-major order."""
    size = 1
    for d in shape:
        size *= d
    eye = ops.eye(size, dtype=dtype)
    for i in range(size):
        yield ops.reshape(eye[i], shape)


def _as_single(target, what):
    flat = _flatten(target)
    if len(flat) != 1:
        raise ValueError(f"{what}() takes one target tensor, not {len(flat)}")
    return flat[0]


def _describe(t):
    name = f" '{t.name}'" if isinstance(t, Variable) else ""
    return f"{type(t).__name__}{name} of shape {t.shape}"


def _flatten(structure):
    """The leaves of a nested list/tuple/dict, as tensors (None stays None)."""
    return [x if x is None or isinstance(x, Tensor) else ops.convert_to_tensor(x) for x in nest.flatten(structure)]


def _sources(structure, caller, where="sources"):
    """The flat list of sources, refusing any that is not a Tensor or Variable (as TensorFlow
    does): a number or an ndarray was never watched, so its gradient would be a silent None."""
    if isinstance(structure, Tensor) or structure is None:
        return [structure]
    if isinstance(structure, (list, tuple, dict)):
        keys = structure if isinstance(structure, dict) else range(len(structure))
        return [t for k in keys for t in _sources(structure[k], caller, f"{where}[{k!r}]")]
    hint = (" (model.get_weights() gives NumPy copies; pass model.trainable_weights)"
            if hasattr(structure, "__array__") else "")
    raise TypeError(f"{caller}: {where} has type {type(structure).__name__}, not a Tensor or "
                    f"Variable; sources must be what the tape watched{hint}")


def _unflatten(structure, flat):
    """``structure`` (nested lists, tuples, dicts) with its leaves taken from ``flat``."""
    return nest.pack_sequence_as(structure, flat)
