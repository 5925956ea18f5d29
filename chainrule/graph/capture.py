"""Capturing a Python function over tensors as a :class:`Graph`: :func:`trace`, and the
:class:`Function` behind ``chainrule.function``.

Tracing runs the function once with a :class:`Tracer` in the list of recorders that
:func:`chainrule.primitives.bind` notifies, the same hook a GradientTape uses: no
second framework, no symbolic tensors. Every primitive call becomes a node; every tensor the
function did not receive as an argument becomes a capture (Variables are read live when the
graph runs, other tensors are frozen constants). In-place Variable updates are captured too,
so a whole training step (forward, loss, ``tape.gradient``, optimizer update) is one graph.

Python control flow on tensor values (what TensorFlow's AutoGraph converts): the trace runs
the Python on real values, so an ``if``, ``while`` or ``for ... in range(n)`` on a traced
tensor takes the branch these values take, and each such decision (``bool``, ``int``,
``float`` of a traced scalar, a Variable's included) is recorded as a *guard* of the graph
(:class:`~chainrule.graph.graph.Guard`: the value, the answer, the user's line). A replay
checks each guard as soon as its value is computed; inputs that answer otherwise make the
:class:`Function` run the trace of their own path (tracing it once), so the results are
those of the Python run eagerly, for any control flow, at the price of one trace per path:
a loop running a data-dependent number of times has one per length. Past
``Function.max_paths`` paths for one signature its calls run eagerly, with one warning.
Updates made by a replay before a guard that fails are put back. Under a GradientTape (or
an outer trace) a function whose traces have guards runs its Python directly, so the tape
(or the outer trace, with guards of its own) follows it. ``autograph=False`` and
``chainrule.autograph.do_not_convert`` make an ``if`` on a traced tensor an error that names
the line, as in TensorFlow. Reads of whole arrays (``x.numpy()``, ``np.asarray(x)``) are
not guarded: they are frozen at the traced values, and noted (``Traced.value_reads``, which
lists the guards too), so a caller can refuse such a graph (compiled Keras steps do);
Python side effects (printing, appending to a list) happen only while tracing (each path).
Guards rather than rewriting the source as AutoGraph does: a trace here runs on real
values and a graph is a flat list of primitive calls, with no loop or branch node that the
compiler, the tape and ONNX export would all have to learn; a guard needs none of them.
Random draws made while tracing are given back: the
generator is put back where it was, so the first replay draws what eager code would.
``chainrule.random``'s draws and dropout are ops (the ``random`` primitive), so a replay
draws anew at every call; a layer's initial weights are drawn once, outside the record.
Randomness from NumPy itself (``np.random``) is invisible to the trace and is frozen.
"""

import collections
import contextlib
import functools
import inspect
import linecache
import numbers
import os
import sys
import threading
import warnings

import numpy as np

from .. import config, random
from .. import recording
from ..errors import OperatorNotAllowedInGraphError
from ..primitives.primitive import OpError
from ..tensor import Tensor, TensorSpec
from ..variable import Variable
from .builder import GraphBuilder, TraceError
from .graph import CONSTANT, INPUT, VARIABLE, Graph, GuardMismatch


class Tracer:
    """A recorder that turns the primitive calls it sees into graph nodes.

    While tracing, it also records Variable updates and remembers each updated Variable's
    value from before the trace, so :func:`trace` can undo the trace's updates.
    """

    def __init__(self, builder, autograph=True):
        self.builder = builder
        self.autograph = autograph  # False: an `if` on a traced tensor is an error
        self.saved = {}  # id(variable) -> (variable, its array before the trace changed it)
        self.value_reads = []  # what read a traced value into Python, in words

    def _record(self, prim, inputs, params, out):
        self.builder.add_node(prim, inputs, params, out)

    def _record_update(self, variable, kind, value, index):
        self._save(variable)
        self.builder.add_update(kind, variable, value, index)

    def _record_effect(self, effect, inputs, params):
        for variable in effect.changes(*inputs, **params):
            self._save(variable)
        self.builder.add_effect(effect, inputs, params)

    def _record_read(self, tensor, what):
        v = self.builder._traced_arrays.get(id(tensor._value))
        if v is None and isinstance(tensor, Variable):  # read live by a replay
            v = self.builder.value_of(tensor)
        if v is None:  # a constant: every replay would read the same
            return
        kind = _GUARDED_READS.get(what)
        if kind is None or tensor.size != 1:  # numpy(), np.asarray(): frozen, and noted
            label = f"Variable '{tensor.name}'" if isinstance(tensor, Variable) else v.label
            self.value_reads.append(f"{what}() of {label} {v.shape}")
            return
        where = _user_line()
        if what == "bool" and (not self.autograph or getattr(_refusing, "depth", 0)):
            raise TensorAsConditionError(v, where, self.autograph)
        expected = _PYTHON_TYPES[kind](np.asarray(tensor._value).reshape(()).item())
        self.builder.add_guard(tensor, kind, expected, where)
        self.value_reads.append(f"{what}() of {v.label} {v.shape} at {where} (a guard)")

    def _save(self, variable):
        if id(variable) not in self.saved:
            self.saved[id(variable)] = (variable, variable._value.copy())

    def undo_updates(self):
        for variable, before in self.saved.values():
            np.copyto(variable._value, before)
            recording.mark_changed(variable)


# Reads of a traced scalar into Python that become guards, and the Python type of each answer.
# ("while_loop": chainrule.while_loop's test, a guard even where autograph is off.)
_GUARDED_READS = {"bool": "bool", "int": "int", "index": "int", "float": "float",
                  "while_loop": "bool"}
_PYTHON_TYPES = {"bool": bool, "int": int, "float": float}
_refusing = threading.local()  # depth of chainrule.autograph.experimental.do_not_convert calls


@contextlib.contextmanager
def tensor_conditions_refused():
    """Inside, an ``if`` on a traced tensor is an error again, as in a function TensorFlow's
    AutoGraph does not convert (``do_not_convert``)."""
    _refusing.depth = getattr(_refusing, "depth", 0) + 1
    try:
        yield
    finally:
        _refusing.depth -= 1


class TensorAsConditionError(TraceError, OperatorNotAllowedInGraphError):
    """A traced tensor was used as a Python bool (``if``, ``while``, ``and``, ``assert``)
    where guards are turned off (``autograph=False``, ``do_not_convert``)."""

    def __init__(self, value, where, autograph=False):
        off = "do_not_convert is in effect" if autograph else "autograph=False"
        super().__init__(
            f"{where}: a traced tensor ({value.label} {value.shape}) is used as a Python bool "
            f"(an if, while, and/or or assert on a tensor), and {off}, so the graph cannot "
            f"follow Python's decision. Use chainrule.cond(pred, true_fn, false_fn), "
            f"chainrule.while_loop or chainrule.where(pred, x, y), leave autograph on, or "
            f"run the function eagerly (chainrule.config.run_functions_eagerly(True)).")


def _user_line():
    """``file:line (`code`)`` of the innermost caller outside chainrule's own package."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
    if frame is None:
        return "in chainrule"
    line = (linecache.getline(frame.f_code.co_filename, frame.f_lineno) or "").strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno} (`{line}`)" if line else \
        f"{frame.f_code.co_filename}:{frame.f_lineno}"

class Traced:
    """The result of :func:`trace`: a graph and how to map its outputs back to the
    structure the function returned.

    ``value_reads`` lists, in words, each time the function read the value of a traced
    tensor into Python (``float(x)``, ``bool(x > 0)``, ``x.numpy()``): a replay repeats
    what the function did with the values seen while tracing. ``literals`` are the parts
    of the result that are not tensors (a replay returns them unchanged). ``compile`` is
    what compiles the graph for :meth:`compiled` (given by a :class:`Function` that has
    one; this package does not know the compiler, which is built on it).
    """

    __slots__ = ("graph", "_out_skeleton", "_out_plan", "compile", "_compiled", "value_reads",
                 "updated_variables", "__weakref__")

    def __init__(self, graph, out_skeleton, out_plan, value_reads=(), compile=None,
                 updated_variables=()):
        self.graph, self._out_skeleton, self._out_plan = graph, out_skeleton, out_plan
        self.compile, self._compiled = compile, None
        self.value_reads = list(value_reads)
        self.updated_variables = list(updated_variables)  # what a failed guard puts back

    @property
    def guards(self):
        """The Python decisions on tensor values this trace holds for (see
        :class:`~chainrule.graph.graph.Guard`)."""
        return self.graph.guards

    @property
    def outcomes(self):
        """The guards' answers while tracing, in order: the path this trace is."""
        return tuple(g.expected for g in self.graph.guards)

    @property
    def literals(self):
        return [x for kind, x in self._out_plan if kind == "literal"]

    def compiled(self):
        """The graph compiled by ``compile`` (for a callable on arrays, such as a
        :class:`~chainrule.compiler.CompiledGraph`), made on first use."""
        if self._compiled is None:
            if self.compile is None:
                raise ValueError(f"the trace of '{self.graph.name}' was made without a "
                                 f"compiler (chainrule.function(jit_compile=True) has one)")
            with _compile_lock:  # threads calling it first at once compile it once
                if self._compiled is None:
                    graph = self.graph
                    if graph.guards:  # the guards' values come out too, to be checked
                        graph = Graph(graph.values, graph.nodes, graph.inputs,
                                      graph.outputs + [g.value for g in graph.guards],
                                      graph.name)
                    self._compiled = self.compile(graph)
        return self._compiled

    def specialized(self, tensors, compile=None):
        """This trace's graph for inputs of another batch size, as a new :class:`Traced`:
        its ops replayed on ``tensors`` under a tracer (the function's Python does not
        run again)."""
        graph = self.graph
        if graph.guards:
            raise ValueError(f"the trace of '{graph.name}' has guards; it is not specialized")
        specialized = _trace(lambda *xs: graph.replay(list(xs)), tuple(tensors), {},
                             name=graph.name, compile=compile or self.compile)
        return Traced(specialized.graph, self._out_skeleton, self._out_plan, self.value_reads,
                      specialized.compile)

    def run(self, tensor_args, compiled=False):
        """The function's result for these tensor arguments: the graph replayed op by op,
        or (``compiled``) its compiled program run on their arrays."""
        if not self.graph.guards:
            if compiled:
                outputs = [Tensor._wrap(a) for a in self.compiled()(*tensor_args)]
            else:
                outputs = self.graph.run(*tensor_args)
        else:
            outputs = self._run_guarded(tensor_args, compiled)
        leaves = [outputs[i] if kind == "value" else i for kind, i in self._out_plan]
        return _unflatten(self._out_skeleton, iter(leaves))


    def _run_guarded(self, tensor_args, compiled):
        """:meth:`run` for a trace with guards: a guard that fails raises
        :class:`GuardMismatch` with the Variables this trace updates put back as they were."""
        saved = [(v, v._value.copy()) for v in self.updated_variables]
        restore_generators = random.saved_state()  # the path taken draws what eager code would
        try:
            # Compiled, the guards are checked after the program (a guard on a Variable,
            # which updates may change, is checked op by op instead).
            if compiled and all(g.value.variable is None for g in self.graph.guards):
                arrays = self.compiled()(*tensor_args)
                n = len(self.graph.outputs)
                for i, (guard, array) in enumerate(zip(self.graph.guards, arrays[n:])):
                    observed = guard.observe(Tensor._wrap(array))
                    if not guard.holds(observed):
                        raise GuardMismatch(self.graph.name, i, guard, observed)
                return [Tensor._wrap(a) for a in arrays[:n]]
            return self.graph.run(*tensor_args)
        except GuardMismatch:
            restore_generators()
            for variable, before in saved:
                np.copyto(variable._value, before)
                recording.mark_changed(variable)
            raise


_compile_lock = threading.RLock()


def trace(fn, *args, name=None, **kwargs):
    """Runs ``fn(*args, **kwargs)`` once and returns what it did as a :class:`Traced`.

    Tensor and NumPy-array arguments (anywhere in nested lists, tuples and dicts) become
    the graph's inputs, in order; other arguments are passed through as they are. Other
    recorders (an outer GradientTape or trace) do not see the tracing run, and Variables
    the function updated are put back afterwards: tracing leaves no trace.

    >>> import chainrule as cr
    >>> traced = trace(lambda x: cr.exp(x) * 2.0, cr.constant([0.0, 1.0]))
    >>> [node.prim.name for node in traced.graph]
    ['exp', 'multiply']
    """
    return _trace(fn, args, kwargs, name)


def _trace(fn, args, kwargs, name=None, compile=None, autograph=True):
    leaves = []
    skeleton = _flatten((args, kwargs), leaves, "")
    builder = GraphBuilder(strict=True)
    tracer = Tracer(builder, autograph)
    traced_leaves = []
    for leaf, path in leaves:
        if isinstance(leaf, Variable):
            builder.add_input(leaf, _arg_name(fn, path))
            traced_leaves.append(leaf)
        elif _is_tensor_like(leaf):
            t = Tensor._wrap(leaf._value if isinstance(leaf, Tensor) else leaf)
            builder.add_input(t, _arg_name(fn, path))
            traced_leaves.append(t)
        else:
            traced_leaves.append(leaf)
    call_args, call_kwargs = _unflatten(skeleton, iter(traced_leaves))

    # Random ops draw while tracing too: put the generator back, so the first replay
    # draws what an eager call would have drawn.
    restore_generators = random.saved_state()
    try:
        with recording.only(tracer, tracer):
            result = fn(*call_args, **call_kwargs)
    finally:
        tracer.undo_updates()
        restore_generators()

    out_leaves = []
    out_skeleton = _flatten(result, out_leaves, "")
    outputs, plan = [], []
    for leaf, _path in out_leaves:
        if isinstance(leaf, Tensor):
            plan.append(("value", len(outputs)))
            outputs.append(leaf)
        else:
            plan.append(("literal", leaf))
    graph = builder.finish(outputs, name=name or getattr(fn, "__name__", "graph"))
    return Traced(graph, out_skeleton, plan, tracer.value_reads, compile,
                  [variable for variable, _ in tracer.saved.values()])


class TraceCache:
    """Traces by signature, least recently used first out when more than ``limit`` (by
    default :func:`chainrule.config.get_trace_cache_size`) are kept: a trace holds its graph
    and compiled buffers, so a server seeing ever new shapes must not keep them all."""

    def __init__(self, limit=None):
        self.limit = limit
        self._items = collections.OrderedDict()

    def get(self, key):
        try:
            self._items.move_to_end(key)
            return self._items[key]
        except KeyError:
            return None

    def put(self, key, value):
        self._items[key] = value
        self._items.move_to_end(key)
        limit = self.limit if self.limit is not None else config.get_trace_cache_size()
        while len(self._items) > limit:
            self._items.popitem(last=False)

    def clear(self):
        self._items.clear()

    def __len__(self):
        return len(self._items)

    def items(self):
        return list(self._items.items())

    def values(self):
        return list(self._items.values())


# As TensorFlow does: a warning when this many of a function's last calls traced it anew.
RETRACE_WARNING_CALLS = 5

# The most paths (traces of one signature that differ in their guards' answers) a Function
# keeps per signature; past it, that signature's calls run the Python eagerly.
MAX_PATHS = 16

# (level, also to stdout): chainrule.autograph.set_verbosity; level >= 1 prints each new path.
verbosity = [0, False]


class _Paths:
    """The traces of one signature whose Python decided on tensor values (guards): one per
    path taken, the most recently run first."""

    def __init__(self, first):
        self.traces = [first]
        self.eager = False  # too many paths: this signature runs eagerly from now on

    @property
    def graph(self):
        return self.traces[0].graph

    def find(self, prefix):
        """A trace whose first guards answered ``prefix``."""
        n = len(prefix)
        for traced in self.traces:
            outcomes = traced.outcomes
            if len(outcomes) >= n and all(g.holds(p) for g, p in
                                          zip(traced.guards[:n], prefix)):
                return traced
        return None

    def promote(self, traced):
        if self.traces[0] is not traced and traced in self.traces:
            self.traces.remove(traced)
            self.traces.insert(0, traced)


class Function:
    """A Python function over tensors that is traced once per input signature and then
    run by replaying its graph. Make one with :func:`chainrule.function`.

    ``compile`` (``chainrule.compiler.compile`` for ``jit_compile=True``; None replays op
    by op) makes each trace's compiled program; calls outside any tape run it.

    The traces are kept in a :class:`TraceCache` (bounded, least recently used out). When
    most recent calls trace anew, one warning says why that is slow and what to do. With
    ``reduce_retracing=True`` the batch size (the first axis of every tensor argument) is
    no part of the signature once the function has shown, by two traces for two batch
    sizes that are the same graph, that its graph does not depend on it: from then on each
    new batch size replays that graph rather than running the Python again.

    Attributes:
        graph: the graph of the most recent call's signature.
        tracing_count: how many times the function has been traced.
    """

    def __init__(self, fn, compile=None, reduce_retracing=False, input_signature=None,
                 autograph=True):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self.autograph = bool(autograph)
        self.max_paths = MAX_PATHS
        self.input_signature = None if input_signature is None else tuple(input_signature)
        if self.input_signature is not None and not all(
                isinstance(s, TensorSpec) for s in nest_leaves(self.input_signature)):
            raise TypeError(f"function '{fn.__name__}': input_signature must hold "
                            f"chainrule.TensorSpec objects; received {input_signature!r}")
        self.compile = compile
        self.reduce_retracing = reduce_retracing
        self._traces = TraceCache()
        # reduce_retracing: relaxed signature -> ("candidate", Traced, batch sizes) until a
        # second batch size is traced, then ("general", Traced) or ("specific",).
        self._relaxed = TraceCache()
        self._recent = collections.deque(maxlen=RETRACE_WARNING_CALLS)  # did each trace?
        self._warned = False
        self._lock = threading.RLock()  # threads tracing one signature at once trace once
        self._last = None
        self.tracing_count = 0

    def __call__(self, *args, **kwargs):
        return self._call((), args, kwargs)

    def _call(self, bound, args, kwargs):
        """The call with ``bound`` (a method's instance) ahead of ``args``; the
        input_signature describes ``args``."""
        if self.input_signature is not None:
            args, kwargs = self._conform(args, kwargs, len(bound)), {}
        args = tuple(bound) + tuple(args)
        if config.functions_run_eagerly():  # tf.config.run_functions_eagerly(True)
            return self._fn(*args, **kwargs)
        entry, tensors = self._entry_for(args, kwargs)
        if isinstance(entry, _Paths):
            return self._run_paths(entry, args, kwargs, tensors)
        self._last = entry
        # The compiled path works on bare arrays, so a tape could not record it: while any
        # recorder is active the graph runs op by op through the normal dispatch instead.
        return entry.run(tensors, compiled=self.compile is not None and not recording.recorders())

    def _run_paths(self, paths, args, kwargs, tensors):
        """A call whose signature has traces with guards: the most recent path is run; a
        guard that answers otherwise switches to the trace of the path these inputs take
        (tracing it if it is new). Under a tape or an outer trace, and once a signature has
        taken more than ``max_paths`` paths, the Python runs itself (eagerly, or into the
        outer trace, whose own guards then follow it)."""
        if paths.eager or recording.recorders():
            return self._fn(*args, **kwargs)
        traced = paths.traces[0]
        compiled = self.compile is not None
        while True:
            try:
                result = traced.run(tensors, compiled=compiled)
            except GuardMismatch as mismatch:
                prefix = traced.outcomes[:mismatch.guard_index] + (mismatch.observed,)
                found = paths.find(prefix)
                if found is None:
                    with self._lock:
                        found = paths.find(prefix)
                        if found is None:
                            if len(paths.traces) >= self.max_paths:
                                paths.eager = True
                                self._warn_paths(paths)
                                return self._fn(*args, **kwargs)
                            found = self._trace(args, kwargs)
                            self.tracing_count += 1
                            self._recent.append(True)
                            self._log_path(found, mismatch)
                            paths.traces.append(found)
                traced = found
                continue
            if paths.traces[0] is not traced:
                with self._lock:
                    paths.promote(traced)
            self._last = traced
            return result

    def _warn_paths(self, paths):
        lines = sorted({g.where for t in paths.traces for g in t.guards})
        warnings.warn(
            f"chainrule.function '{self.__name__}': its Python decided on tensor values "
            f"({'; '.join(lines[:3])}) and took {len(paths.traces)} different paths for "
            f"inputs of one signature, the most it keeps (Function.max_paths). Its further "
            f"calls with this signature run the Python eagerly (correct, not compiled). "
            f"For a loop whose length depends on the data, chainrule.while_loop traces one "
            f"path per length too; a fixed bound (tf.range over a Python int), or "
            f"chainrule.where/cond in place of the if, make one graph.", stacklevel=5)

    def _log_path(self, traced, mismatch):
        if verbosity[0] >= 1:
            print(f"chainrule.function '{self.__name__}': {mismatch.guard.where} now gives "
                  f"{mismatch.observed!r}; traced that path ({len(traced.guards)} guard(s))",
                  file=sys.stdout if verbosity[1] else sys.stderr)

    def _conform(self, args, kwargs, skip=0):
        """The arguments as tensors of ``input_signature``'s specs (lists and arrays are
        converted); a TypeError for a missing, extra or unfitting one."""
        signature = self.input_signature
        if kwargs:
            names = list(inspect.signature(self._fn).parameters)[skip:skip + len(signature)]
            extra = [k for k in kwargs if k not in names]
            if extra:
                raise TypeError(f"function '{self.__name__}' got unexpected keyword "
                                f"argument(s) {extra}; its input_signature names {names}")
            args = tuple(args) + tuple(kwargs[n] for n in names[len(args):] if n in kwargs)
        if len(args) != len(signature):
            raise TypeError(f"function '{self.__name__}' takes {len(signature)} argument(s) "
                            f"by its input_signature {list(signature)}; received {len(args)}")
        out = []
        for i, (arg, spec) in enumerate(zip(args, signature)):
            out.append(_conformed(arg, spec, f"function '{self.__name__}' argument {i}"))
        return tuple(out)

    def get_concrete_function(self, *args, **kwargs):
        return self._concrete((), args, kwargs)

    def _concrete(self, bound, args, kwargs):
        """The trace for these arguments as a :class:`ConcreteFunction` (traced now if it
        is new). Tensor arguments may be given as :class:`~chainrule.TensorSpec` (open
        sizes are traced at 1); with no arguments, the ``input_signature`` is used."""
        if not args and not kwargs:
            if self.input_signature is None:
                raise ValueError(f"function '{self.__name__}': get_concrete_function() needs "
                                 f"arguments (tensors or TensorSpecs), or an input_signature")
            args = self.input_signature
        specs = nest_map(_spec_of, (tuple(args), kwargs))
        examples = nest_map(lambda x: x.example() if isinstance(x, TensorSpec) else x,
                            (tuple(args), kwargs))
        traced, _ = self._traced_for(tuple(bound) + examples[0], examples[1])
        return ConcreteFunction(self, traced, specs, bound)

    def experimental_get_tracing_count(self):
        return self.tracing_count

    def pretty_printed_concrete_signatures(self, verbose=True):
        """Each trace's inputs and outputs, one block per trace (TensorFlow's listing)."""
        return "\n\n".join(_signature_text(traced.graph) for traced in self._traces.values())

    def get_graph(self, *args, **kwargs):
        """The graph for these arguments' signature (traced now if it is new; not run)."""
        return self._traced_for(args, kwargs)[0].graph

    @property
    def graph(self):
        """The graph of the most recent call (None before the first call)."""
        return None if self._last is None else self._last.graph

    def _traced_for(self, args, kwargs):
        entry, tensors = self._entry_for(args, kwargs)
        return (entry.traces[0] if isinstance(entry, _Paths) else entry), tensors

    def _entry_for(self, args, kwargs):
        """The signature's :class:`Traced`, or its :class:`_Paths` where the Python
        decided on tensor values; traced now if the signature is new."""
        leaves = []
        skeleton = _flatten((args, kwargs), leaves, "")
        key = (skeleton, tuple(_leaf_key(leaf) for leaf, _ in leaves))
        tensors = [leaf for leaf, _ in leaves if isinstance(leaf, Variable) or _is_tensor_like(leaf)]
        traced = self._traces.get(key)
        if traced is not None:
            self._recent.append(False)
            return traced, tensors
        with self._lock:
            traced = self._traces.get(key)
            if traced is None:
                traced = self._new_trace(key, args, kwargs, tensors)
                self._traces.put(key, traced)
        return traced, tensors

    def _new_trace(self, key, args, kwargs, tensors):
        relaxed = _relaxed_key(key) if self.reduce_retracing else None
        state = self._relaxed.get(relaxed) if relaxed is not None else None
        if state is not None and state[0] == "general":
            try:
                traced = state[1].specialized(tensors)
                self._recent.append(False)
                return traced
            except Exception:  # noqa: BLE001 (the graph does not fit these inputs: trace)
                self._relaxed.put(relaxed, ("specific",))
        traced = self._trace(args, kwargs)
        self.tracing_count += 1
        self._recent.append(True)
        if traced.guards:  # one trace per path; no relaxed batch size
            if relaxed is not None:
                self._relaxed.put(relaxed, ("specific",))
            self._warn_if_retracing()
            return _Paths(traced)
        if relaxed is not None:
            batch = _batch_sizes(key)
            if state is None:
                self._relaxed.put(relaxed, ("candidate", traced, batch))
            elif state[0] == "candidate" and state[2] != batch:
                same = _same_but_batch(state[1].graph, traced.graph)
                self._relaxed.put(relaxed, ("general", traced) if same else ("specific",))
        self._warn_if_retracing()
        return traced

    def _warn_if_retracing(self):
        if not self._warned and len(self._recent) == RETRACE_WARNING_CALLS and \
                all(self._recent):
            self._warned = True
            warnings.warn(
                f"{RETRACE_WARNING_CALLS} out of the last {RETRACE_WARNING_CALLS} calls to "
                f"{self!r} traced it anew. Tracing is expensive; the usual causes are (1) "
                f"making the chainrule.function again in a loop (define it once, outside), "
                f"(2) tensors of changing shapes (reduce_retracing=True lets one trace serve "
                f"every batch size), (3) Python numbers or objects as arguments, each new "
                f"value a new signature (pass tensors), (4) Python if/while on tensor values "
                f"that take a new path (one trace per path).", stacklevel=6)

    def _trace(self, args, kwargs):
        return _trace(self._fn, args, kwargs, compile=self.compile, autograph=self.autograph)

    def __get__(self, instance, owner=None):
        # As a method decorator: bind `self` like a plain function would.
        return self if instance is None else _BoundFunction(self, instance)

    def __repr__(self):
        return f"<chainrule.function {self.__name__}: {self.tracing_count} trace(s)>"


class _BoundFunction:
    """A :class:`Function` used as a method, bound to its instance (what
    ``instance.method`` gives): calls and ``get_concrete_function`` pass the instance
    first; other attributes are the Function's."""

    def __init__(self, function, instance):
        self._function, self.__self__ = function, instance
        self.__func__ = function

    def __call__(self, *args, **kwargs):
        return self._function._call((self.__self__,), args, kwargs)

    def get_concrete_function(self, *args, **kwargs):
        return self._function._concrete((self.__self__,), args, kwargs)

    def __getattr__(self, name):
        return getattr(self._function, name)

    def __repr__(self):
        return f"<bound {self._function!r} of {self.__self__!r}>"


class ConcreteFunction:
    """One trace of a :class:`Function`, for the argument specs it was made for
    (``Function.get_concrete_function``): callable with tensors that fit them.

    Attributes: ``graph`` (the :class:`~chainrule.graph.Graph`), ``inputs`` and ``outputs``
    (the graph's input and output values), ``structured_input_signature`` (``(args,
    kwargs)`` with a :class:`~chainrule.TensorSpec` for each tensor) and
    ``structured_outputs`` (specs of the results). Calling it with other sizes where the
    specs leave them open runs the function's own trace for those.
    """

    def __init__(self, function, traced, specs, instance=()):
        self._function, self._traced, self._instance = function, traced, tuple(instance)
        self.structured_input_signature = specs
        self.name = function.__name__
        params = inspect.signature(function._fn).parameters
        bound = inspect.signature(function._fn).bind(*self._instance, *specs[0], **specs[1])
        # (a method's instance is bound first and left out of the tensor parameters)
        if self._instance:
            del bound.arguments[next(iter(params))]
        # the tensor parameters are the call's; Python values are fixed by the trace
        self._params = [(name, value) for name, value in bound.arguments.items()
                        if params[name].kind not in (params[name].VAR_POSITIONAL,
                                                     params[name].VAR_KEYWORD)]
        self._tensor_params = [name for name, value in self._params
                               if any(isinstance(x, TensorSpec) for x in nest_leaves(value))]

    @property
    def graph(self):
        return self._traced.graph

    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def outputs(self):
        return list(self.graph.outputs)

    @property
    def structured_outputs(self):
        outputs = self.graph.outputs
        leaves = [TensorSpec(outputs[x].shape, outputs[x].dtype) if kind == "value" else x
                  for kind, x in self._traced._out_plan]
        return _unflatten(self._traced._out_skeleton, iter(leaves))

    def __call__(self, *args, **kwargs):
        if len(args) > len(self._tensor_params):
            raise TypeError(f"concrete function '{self.name}' takes {len(self._tensor_params)} "
                            f"tensor argument(s) {self._tensor_params}; received {len(args)}")
        given = dict(zip(self._tensor_params, args))
        for name, value in kwargs.items():
            if name not in self._tensor_params or name in given:
                raise TypeError(f"concrete function '{self.name}': unexpected or repeated "
                                f"argument {name!r}; its tensor arguments are "
                                f"{self._tensor_params}")
            given[name] = value
        missing = [n for n in self._tensor_params if n not in given]
        if missing:
            raise TypeError(f"concrete function '{self.name}' is missing argument(s) {missing}")
        call = {}
        for name, spec in self._params:
            if name in given:
                call[name] = nest_map(lambda v, s: _conformed(v, s, f"concrete function "
                                                               f"'{self.name}' argument "
                                                               f"{name!r}")
                                      if isinstance(s, TensorSpec) else v,
                                      given[name], spec)
            else:
                call[name] = spec  # a Python value the trace was made for
        # the layout of get_concrete_function's arguments, so the call finds its trace
        names = [name for name, _ in self._params]
        positional = names[:len(self.structured_input_signature[0])]
        return self._function._call(self._instance, tuple(call.pop(n) for n in positional),
                                    call)

    @property
    def function_type(self):
        """The parameters with their specs (Python values fixed by the trace as they are)
        and the results' specs, printed as ``(a: TensorSpec(...)) -> TensorSpec(...)``."""
        return FunctionType(dict(self._params), self.structured_outputs)

    @property
    def inference_fn(self):
        """The traced graph as a function of the tensor arguments alone, positionally (what
        TensorFlow calls the atomic function: no Python values, no argument structure)."""
        return InferenceFunction(self)

    def pretty_printed_signature(self, verbose=True):
        """The arguments by their specs, and the results."""
        lines = [f"{self.name}({', '.join(self._tensor_params)})", "  Args:"]
        lines += [f"    {name}: {spec!r}" for name, spec in self._params]
        lines.append("  Returns:")
        lines += [f"    {spec!r}" for spec in nest_leaves(self.structured_outputs)]
        return "\n".join(lines)

    def __repr__(self):
        return f"<ConcreteFunction {self.name}({', '.join(self._tensor_params)})>"

    def __str__(self):
        return f"ConcreteFunction {self.pretty_printed_signature()}"


class FunctionType:
    """A concrete function's signature: ``parameters`` (name -> TensorSpec, or the Python
    value the trace was made for) and ``output`` (the results' specs)."""

    def __init__(self, parameters, output):
        self.parameters, self.output = parameters, output

    def __eq__(self, other):
        return isinstance(other, FunctionType) and \
            (self.parameters, self.output) == (other.parameters, other.output)

    __hash__ = None

    def __repr__(self):
        params = ", ".join(f"{name}: {spec!r}" for name, spec in self.parameters.items())
        return f"({params}) -> {self.output!r}"


class InferenceFunction:
    """A concrete function's graph called with its tensor arguments only, in order."""

    def __init__(self, concrete):
        self._concrete = concrete
        self.name = concrete.name
        self.function_type = concrete.function_type

    @property
    def graph(self):
        return self._concrete.graph

    def __call__(self, *tensors):
        expected = self._concrete._tensor_params
        if len(tensors) != len(expected):
            raise TypeError(f"inference function of '{self.name}' takes the tensors "
                            f"{expected} positionally; received {len(tensors)}")
        return self._concrete(*tensors)

    def __repr__(self):
        return f"<AtomicFunction> {self.name}{self.function_type!r}"


class ArgumentSpecError(OpError, TypeError):
    """An argument that does not fit its TensorSpec. A TypeError, as TensorFlow raises for a
    function's ``input_signature``, and an InvalidArgumentError, as it raises for a
    concrete function's arguments."""


def _conformed(arg, spec, what):
    """``arg`` as a tensor fitting ``spec``, or an :class:`ArgumentSpecError` naming
    ``what`` and the spec."""
    if not isinstance(arg, Tensor):
        try:
            arg = Tensor._wrap(np.asarray(arg, dtype=spec.dtype))
        except (TypeError, ValueError):
            raise ArgumentSpecError(f"{what}: {arg!r} cannot be converted to {spec}") from None
        if not spec.is_compatible_with(arg):
            raise ArgumentSpecError(f"{what}: a value of shape {tuple(arg.shape)} does not "
                                    f"fit {spec}")
        return arg
    if not spec.is_compatible_with(arg):
        raise ArgumentSpecError(f"{what}: a {arg.dtype.name} tensor of shape "
                                f"{tuple(arg.shape)} does not fit {spec}")
    return arg


def _spec_of(x):
    if isinstance(x, TensorSpec):
        return x
    if isinstance(x, (Tensor, np.ndarray)):
        return TensorSpec(x.shape, x.dtype)
    return x


def _signature_text(graph):
    args = [v for v in graph.inputs]
    lines = [f"{graph.name}({', '.join(v.name or v.ref for v in args)})", "  Args:"]
    lines += [f"    {v.name or v.ref}: {v.dtype.name} Tensor, shape={tuple(v.shape)}"
              for v in args] or ["    (none)"]
    lines.append("  Returns:")
    lines += [f"    {v.dtype.name} Tensor, shape={tuple(v.shape)}" for v in graph.outputs] or \
        ["    (nothing)"]
    return "\n".join(lines)


def nest_leaves(structure):
    leaves = []
    _flatten(structure, leaves, "")
    return [leaf for leaf, _ in leaves]


def nest_map(fn, *structures):
    """``fn`` on the leaves of ``structures`` (nested alike), keeping the first's nesting."""
    flat = []
    for structure in structures:
        leaves = []
        skeleton = _flatten(structure, leaves, "")
        flat.append([leaf for leaf, _ in leaves])
        if len(flat) == 1:
            first = skeleton
    return _unflatten(first, iter(fn(*xs) for xs in zip(*flat)))


def function(func=None, *, jit_compile=False, input_signature=None, autograph=True,
             reduce_retracing=False):
    """:func:`chainrule.function` as this package alone can offer it: traced once per
    signature, then replayed op by op. ``jit_compile=True`` needs the compiler, which is
    built on this package: :func:`chainrule.function` (``tf.function``) has it.

    >>> import chainrule as cr
    >>> f = function(lambda x: x * 2.0)
    >>> float(f(cr.constant(3.0))), f.tracing_count
    (6.0, 1)
    """
    if jit_compile:
        raise ValueError("chainrule.graph.function cannot compile (the graph package does "
                         "not know the compiler); use chainrule.function(jit_compile=True)")
    if func is None:
        return functools.partial(function, reduce_retracing=reduce_retracing,
                                 autograph=autograph)
    return Function(func, reduce_retracing=reduce_retracing, autograph=autograph)


# -- argument structures -----------------------------------------------------------------

_LEAF = "*"


def _flatten(obj, leaves, path):
    """Nested lists/tuples/dicts as a hashable skeleton; leaves go to ``leaves`` with a path."""
    if isinstance(obj, (list, tuple)) and not isinstance(obj, Tensor):
        return (type(obj), tuple(_flatten(o, leaves, f"{path}[{i}]") for i, o in enumerate(obj)))
    if isinstance(obj, dict):
        return (dict, tuple((k, _flatten(v, leaves, f"{path}[{k!r}]")) for k, v in obj.items()))
    leaves.append((obj, path))
    return _LEAF


def _unflatten(skeleton, leaves):
    if skeleton == _LEAF:
        return next(leaves)
    kind, items = skeleton
    if kind is dict:
        return {k: _unflatten(v, leaves) for k, v in items}
    values = [_unflatten(s, leaves) for s in items]
    if hasattr(kind, "_fields"):  # a namedtuple
        return kind(*values)
    return kind(values)


def _is_tensor_like(x):
    return isinstance(x, (Tensor, np.ndarray))


def _leaf_key(x):
    """What of an argument decides whether a trace can be reused for it."""
    if isinstance(x, Variable):
        return ("variable", x.shape, x.dtype.str)
    if _is_tensor_like(x):
        return ("tensor", x.shape, x.dtype.str)
    if isinstance(x, (numbers.Number, str, bytes, type(None), np.generic)):
        return ("python", type(x).__name__, x)
    try:
        hash(x)
        return ("object", x)
    except TypeError:
        return ("id", id(x))


def _relaxed_key(key):
    """A signature with the first axis of every tensor argument left open."""
    skeleton, leaf_keys = key
    return skeleton, tuple(("tensor", (None,) + k[1][1:], k[2]) if k[0] == "tensor" and k[1]
                           else k for k in leaf_keys)


def _batch_sizes(key):
    return tuple(k[1][0] for k in key[1] if k[0] == "tensor" and k[1])


def _same_but_batch(a, b):
    """Whether graphs ``a`` and ``b`` are one computation traced for inputs that differ in
    their first axis only: the same ops with the same params on the same values, the same
    constants and Variables. A graph that read the batch size (a reshape to it, a division
    by it) differs in a param or a constant."""
    if len(a.values) != len(b.values) or len(a.nodes) != len(b.nodes) or \
            [v.index for v in a.outputs] != [v.index for v in b.outputs]:
        return False
    for u, v in zip(a.values, b.values):
        if u.kind != v.kind or u.dtype != v.dtype:
            return False
        if u.kind == INPUT and (len(u.shape) != len(v.shape) or u.shape[1:] != v.shape[1:]):
            return False
        if u.kind == CONSTANT and not _same(u.example, v.example):
            return False
        if u.kind == VARIABLE and u.variable is not v.variable:
            return False
    return all(m.prim is n.prim and [v.index for v in m.inputs] == [v.index for v in n.inputs]
               and (m.output is None) == (n.output is None) and _same(m.params, n.params)
               for m, n in zip(a.nodes, b.nodes))


def _same(x, y):
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(map(_same, x, y))
    if isinstance(x, (np.ndarray, np.generic, Tensor)) or isinstance(y, (np.ndarray, np.generic)):
        x, y = (t._value if isinstance(t, Tensor) else t for t in (x, y))
        x, y = np.asarray(x), np.asarray(y)
        return x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
    try:
        return bool(x == y) and type(x) is type(y)
    except Exception:  # noqa: BLE001 (an object without a plain equality)
        return x is y


def _arg_name(fn, path):
    """``x`` or ``x[0]`` for the argument at ``path`` (``[0][i]...`` of ``(args, kwargs)``)."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if path.startswith("[0]["):
        head, _, rest = path[4:].partition("]")
        i = int(head)
        name = params[i] if i < len(params) else f"arg{i}"
        return name + rest
    if path.startswith("[1]["):
        head, _, rest = path[4:].partition("]")
        return head.strip("'\"") + rest
    return path
