"""``tf.py_function`` and ``tf.numpy_function``: Python code as one op of a computation.

The function runs on concrete values every time the op runs: eagerly, at once; inside a
traced function (``chainrule.function``), once while tracing (which fixes the shapes of
its results; skipped when ``Tout`` is ``[]``, as ``chainrule.print`` prints nothing while
tracing) and again at every call of the compiled program, which has no other form of it
and simply calls it. Its own ops are never recorded by a tape or a trace around it.

* ``py_function`` passes Tensors and takes back Tensors (or anything ``convert_to_tensor``
  takes). It is differentiable when ``func`` is, the way TensorFlow does it: eagerly, the
  call runs ``func`` under a tape of its own, and the op's gradient asks that tape. Inside
  a traced function, the gradient is an op of its own that runs ``func`` again under a
  tape at every call. Gradients flow to the inputs, not to Variables ``func`` reads, and
  there is no second derivative (as in TensorFlow).
* ``numpy_function`` passes NumPy arrays (copies) and takes back arrays; it has no gradient.

``Tout`` is a dtype (one result), a list of dtypes (a list of results) or ``[]`` (``func``
returns None; the op still runs in a compiled program). Results that are tensors or NumPy
arrays must already have the dtype ``Tout`` names; Python numbers and lists are converted.

An op has one result, so a call with several results is bound as several ops: the first
runs ``func`` and keeps every result; each other one reads its own (it takes the first
result as an input, so it runs after it).
"""

import functools
import threading

import numpy as np

from . import dtypes, recording
from .autodiff.tape import GradientTape
from .ops import convert_to_tensor
from .primitives.primitive import Primitive, bind
from .tensor import Tensor
from .variable import Variable

__all__ = ["numpy_function", "py_function"]

_NOTHING = np.zeros((), np.bool_)  # the result of a call whose func returns None


class _Output(Tensor):
    """A result of an eager differentiable call, carrying what its gradient needs: the
    call's own tape, the tensors it gave ``func`` and what ``func`` returned."""

    __slots__ = ("_py_call",)


def py_function(func=None, inp=None, Tout=None, name=None):
    """Runs ``func(*inp)`` on Tensors as one op (``tf.py_function``); see the module
    docstring. Returns a Tensor for a single ``Tout``, a list for a list. Without ``inp``
    it returns ``func`` wrapped (called with the inputs); without ``func`` too, a decorator:
    ``@tf.py_function(Tout=tf.float32)``.

    >>> import chainrule as tf
    >>> def log_huber(x, m):
    ...     if tf.abs(x) <= m:          # plain Python control flow, on the concrete value
    ...         return x ** 2
    ...     return m ** 2 * (1 - 2 * tf.math.log(m) + tf.math.log(x ** 2))
    >>> x, m = tf.constant(1.0), tf.constant(2.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = tf.py_function(func=log_huber, inp=[x, m], Tout=tf.float32)
    >>> float(tape.gradient(y, x))
    2.0
    """
    wrapped = _wrapped(py_function, func, inp, Tout, name, "py_function")
    if wrapped is not None:
        return wrapped
    return _Call(func, inp, Tout, name, "py_function", numpy=False, stateful=True).outputs


def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):
    """Runs ``func(*arrays)`` on NumPy arrays as one op (``tf.numpy_function``); not
    differentiable. ``stateful=False`` promises the same results for the same inputs and no
    side effects, so a compiled program may fold, share or drop the call. Without ``inp``
    (and ``func``) it wraps (decorates) as :func:`py_function` does."""
    wrapped = _wrapped(functools.partial(numpy_function, stateful=stateful), func, inp, Tout,
                       name, "numpy_function")
    if wrapped is not None:
        return wrapped
    return _Call(func, inp, Tout, name, "numpy_function", numpy=True,
                 stateful=bool(stateful)).outputs


def _wrapped(api, func, inp, Tout, name, api_name):
    """The decorator (no ``func``) or the wrapped function (no ``inp``), else None."""
    if Tout is None:
        raise TypeError(f"{api_name}: Tout is required: the dtype of func's result (a list of "
                        f"dtypes for several results, [] for none)")
    if func is None:
        if inp is not None:
            raise TypeError(f"{api_name}: inp was given but func was not")
        return lambda f: api(f, None, Tout, name=name)
    if inp is None:
        @functools.wraps(func)
        def call(*args):
            return api(func, list(args), Tout, name=name)
        return call
    return None


class _Call:
    """One call of ``py_function``/``numpy_function``: the function, the dtypes of its
    results, and the ops that run it."""

    def __init__(self, func, inp, Tout, name, api, numpy, stateful):
        if not callable(func):
            raise TypeError(f"{api}: func must be callable; received {type(func).__name__}")
        listed = isinstance(Tout, (list, tuple))
        self.dtypes = [dtypes.as_dtype(t) for t in (Tout if listed else [Tout])]
        if not isinstance(inp, (list, tuple)):
            inp = [inp]
        inputs = [x if isinstance(x, Tensor) else convert_to_tensor(x) for x in inp]
        self.func, self.numpy = func, numpy
        self.label = f"{api}({name or getattr(func, '__name__', type(func).__name__)})"
        self.floats = [x.dtype.kind == "f" for x in inputs]
        differentiable = not numpy and any(self.floats)
        why = (f"{api} runs NumPy code that chainrule cannot differentiate; use "
               f"tf.py_function with chainrule ops in func for a gradient" if numpy else
               f"{self.label} has no float input to differentiate")
        self.shapes = None  # of the results of the first run: a replay must keep them
        arrays = [x._value for x in inputs]
        with_tape = differentiable and bool(recording.recorders()) and \
            not recording.listeners()
        if not self.dtypes and recording.listeners():
            results, saved = [], None  # no result needed: a trace only keeps the op (as print)
        else:
            results, saved = self.run(arrays, with_tape)
        self.shapes = [r.shape for r in results]
        count = len(self.dtypes)
        vjps = [self._vjp(i) for i in range(count)] if differentiable else None
        ops = _Results(self.label, self._replay, count, vjps, why, stateful)
        outputs = ops.bind(inputs, results, _Output if saved is not None else Tensor)
        if saved is not None:
            for out in outputs:
                out._py_call = saved
        self.outputs = outputs if listed else outputs[0]

    def run(self, arrays, with_tape=False):
        """``func`` on ``arrays``, no recorder watching: the results as arrays, and (with
        ``with_tape``) the tape, the argument tensors and the returned values."""
        saved = recording.state.recorders, recording.state.listeners
        recording.state.recorders, recording.state.listeners = [], []
        tape = None
        try:
            if self.numpy:
                returned = self.func(*[np.array(a) for a in arrays])
                args = None
            else:
                args = [Tensor._wrap(a) for a in arrays]
                if with_tape:
                    tape = GradientTape(persistent=True, watch_accessed_variables=False)
                    with tape:
                        for a, is_float in zip(args, self.floats):
                            if is_float:
                                tape.watch(a)
                        returned = self.func(*args)
                else:
                    returned = self.func(*args)
        finally:
            recording.state.recorders, recording.state.listeners = saved
        values = self._results(returned)
        arrays_out = [self._array(i, v) for i, v in enumerate(values)]
        return arrays_out, ((tape, args, values) if tape is not None else None)

    def _results(self, returned):
        n = len(self.dtypes)
        if n == 0:
            if returned is not None and not (isinstance(returned, (list, tuple)) and
                                             not returned):
                raise TypeError(f"{self.label}: Tout is [], so func must return None; it "
                                f"returned {type(returned).__name__}")
            return []
        if n == 1 and not (isinstance(returned, (list, tuple)) and len(returned) == 1 and
                           isinstance(returned[0], (Tensor, np.ndarray))):
            return [returned]
        if not isinstance(returned, (list, tuple)) or len(returned) != n:
            got = f"{len(returned)} values" if isinstance(returned, (list, tuple)) else \
                f"one {type(returned).__name__}"
            raise TypeError(f"{self.label}: Tout names {n} results, but func returned {got}; "
                            f"return a list of {n}")
        return list(returned)

    def _array(self, i, value):
        dtype = self.dtypes[i]
        if isinstance(value, Variable):
            raise TypeError(f"{self.label}: func returned the Variable '{value.name}' as "
                            f"result {i}; return its value instead (tf.identity(v) or "
                            f"v.read_value())")
        if value is None:
            raise TypeError(f"{self.label}: func returned None as result {i}, where Tout "
                            f"says {dtype.name}")
        if isinstance(value, (Tensor, np.ndarray, np.generic)):
            array = value._value if isinstance(value, Tensor) else np.asarray(value)
            if array.dtype != dtype:
                raise TypeError(f"{self.label}: result {i} of func has dtype "
                                f"{array.dtype.name}, where Tout says {dtype.name}; cast it "
                                f"in func (e.g. tf.cast(y, '{dtype.name}') or "
                                f"y.astype('{dtype.name}')) or change Tout")
        else:
            array = convert_to_tensor(value, dtype=dtype)._value
        array = np.asarray(array)
        if self.shapes is not None and array.shape != self.shapes[i]:
            raise ValueError(f"{self.label}: result {i} of func has shape {array.shape}, but "
                             f"it had shape {self.shapes[i]} when the function was traced; "
                             f"a traced function (tf.function) needs func's results to keep "
                             f"their shapes for inputs of the same shapes. Run it eagerly, "
                             f"or make the shapes fixed")
        return array

    def _replay(self, arrays):
        return self.run(arrays)[0]

    # -- the gradient -------------------------------------------------------------------
    def _vjp(self, i):
        def vjp(g, out, *inputs):
            if i > 0:
                inputs = inputs[1:]  # the first result, taken for ordering only
            grads = self._gradients(i, g, out, inputs)
            return ((None,) + tuple(grads)) if i > 0 else tuple(grads)
        return vjp

    def _gradients(self, i, g, out, inputs):
        saved = getattr(out, "_py_call", None)
        if saved is not None and not recording.listeners():  # eager: ask the call's tape
            tape, args, values = saved
            if not isinstance(values[i], Tensor):
                return [None] * len(inputs)
            grads = tape.gradient(values[i], args, output_gradients=g)
            return [None if gr is None or not f else gr for gr, f in zip(grads, self.floats)]
        # Traced (or a replayed result): the gradient is an op that runs func again.
        floats = [x for x, f in zip(inputs, self.floats) if f]
        why = (f"the gradient of {self.label} has no gradient of its own (no second "
               f"derivatives of py_function, as in TensorFlow)")
        ops = _Results(f"{self.label}.gradient[{i}]", lambda arrays: self._grad_arrays(
            i, arrays), len(floats), None, why, stateful=True)
        g = convert_to_tensor(g, dtype=self.dtypes[i]) if not isinstance(g, Tensor) else g
        made = iter(ops.bind([g, *inputs], None, Tensor))
        return [next(made) if f else None for f in self.floats]

    def _grad_arrays(self, i, arrays):
        g, inputs = arrays[0], arrays[1:]
        _, (tape, args, values) = self.run(inputs, with_tape=True)
        floats = [a for a, f in zip(args, self.floats) if f]
        if not isinstance(values[i], Tensor):
            return [np.zeros_like(a._value) for a in floats]
        grads = tape.gradient(values[i], floats, output_gradients=Tensor._wrap(g))
        return [np.zeros_like(a._value) if gr is None else np.asarray(gr._value)
                for gr, a in zip(grads, floats)]


class _Results:
    """``run(arrays) -> list of arrays`` bound as single-result ops (module docstring)."""

    def __init__(self, label, run, count, vjps, why, stateful):
        self.run, self.count = run, count
        self.local = threading.local()  # the results of the latest run, and a pending one
        self.prims = [Primitive(label if k == 0 else f"{label}[{k}]",
                                self._first if k == 0 else self._other(k),
                                vjp=vjps[k] if vjps else None, why=None if vjps else why,
                                stateful=stateful)
                      for k in range(max(count, 1))]

    def _first(self, *arrays):
        results = getattr(self.local, "pending", None)
        if results is None:
            results = self.run(list(arrays))
        self.local.pending = None
        self.local.results = results
        return results[0] if results else _NOTHING

    def _other(self, k):
        def forward(first, *arrays):
            return self.local.results[k]
        return forward

    def bind(self, inputs, results, result_type):
        """Binds the ops on ``inputs`` (``results``: the arrays of a run already made, or
        None to run now); returns the result tensors."""
        self.local.pending = results
        try:
            first = bind(self.prims[0], list(inputs), result_type=result_type)
        finally:
            self.local.pending = None
        if self.count == 0:
            return []
        return [first] + [bind(p, [first, *inputs], result_type=result_type)
                          for p in self.prims[1:]]
