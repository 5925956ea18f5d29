"""``chainrule.function`` (TensorFlow's ``tf.function``): a Python function traced by
:mod:`chainrule.graph` and replayed, on this package's executor with ``jit_compile=True``.

It needs both tracing and compiling, so it lives here, above the graph package (which knows
no compiler): the :class:`~chainrule.graph.capture.Function` it makes is given
:func:`~.execute.compile`, and each of its traces is compiled with it on first use.
"""

import functools

from ..graph.capture import Function
from .execute import compile

__all__ = ["function"]


def function(func=None, *, jit_compile=False, input_signature=None, autograph=True,
             reduce_retracing=False):
    """Captures ``func`` as a graph on its first call and replays the graph afterwards
    (TensorFlow's ``tf.function``). Works as ``@function``, ``@function(jit_compile=True)``
    and ``function(fn)``.

    A new trace is made for each new *signature*: the shapes and dtypes of the tensor and
    array arguments, and the values of the other (Python) arguments. Variables the function
    reads are read live on every call, so it sees updated weights; Variable updates inside
    it are replayed. Called inside a GradientTape, the replay is recorded like any other
    ops, so gradients flow through it. With ``jit_compile=True`` calls outside any tape run
    on :mod:`.execute`'s executor (buffers planned once, no per-op dispatch).
    With ``reduce_retracing=True`` one trace serves every batch size (the first axis of
    the tensor arguments), once two traces have shown the graph does not depend on it.
    Traces are kept per signature up to :func:`chainrule.config.set_trace_cache_size`,
    least recently used out. ``input_signature`` (a list of :class:`~chainrule.TensorSpec`)
    fixes what the arguments must be: others are refused with a TypeError, lists and
    arrays are converted to its dtypes (sizes left open still trace anew, where TensorFlow
    makes one trace for them). ``get_concrete_function(...)`` gives one trace as a
    callable with its graph.

    Python control flow on tensor values (``if``/``while`` on a tensor, ``int(n)``,
    ``tf.range(n)``) works as it does eagerly: each such read is a *guard* of the trace, and
    a call whose inputs answer a guard otherwise runs (tracing it the first time) the trace
    of the path they take, up to ``Function.max_paths`` paths per signature, then eagerly
    (:mod:`chainrule.graph.capture` says how). ``autograph=False`` makes an ``if`` on a
    traced tensor an error instead, as in TensorFlow.

    >>> import chainrule as cr
    >>> @cr.function
    ... def f(x, scale):
    ...     return cr.reduce_sum(x * x) * scale
    >>> float(f(cr.constant([1.0, 2.0]), 2.0))
    10.0
    >>> float(f(cr.constant([3.0, 4.0]), 2.0)), f.tracing_count  # same signature: replayed
    (50.0, 1)
    >>> print(f.graph)  # doctest: +NORMALIZE_WHITESPACE
    graph f(x):
      %0 = input 'x'  # (2,) float32
      %3 = constant 2  # () float32
      %1 = multiply(%0, %0)  # (2,) float32
      %2 = reduce_sum(%1, keepdims=False)  # () float32
      %4 = multiply(%2, %3)  # () float32
      return %4
    """
    if func is None:
        return functools.partial(function, jit_compile=jit_compile,
                                 input_signature=input_signature, autograph=autograph,
                                 reduce_retracing=reduce_retracing)
    return Function(func, compile=compile if jit_compile else None,
                    reduce_retracing=reduce_retracing, input_signature=input_signature,
                    autograph=autograph)
