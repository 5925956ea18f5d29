"""``custom_gradient``: a function whose derivative you write yourself (TensorFlow's
``tf.custom_gradient``).

The decorated function returns ``(y, grad_fn)``; ``grad_fn(dy)`` returns the gradient for
each positional input. If the function reads trainable Variables, ``grad_fn`` must accept
``variables=None`` and return ``(input_grads, variable_grads)``, as in TensorFlow.

The call runs as one op through :func:`~chainrule.primitives.primitive.bind`, named
``custom_gradient(<function name>)``: the ops inside are not recorded, and a tape uses
``grad_fn`` as that op's derivative. So a gradient check
(:func:`chainrule.testing.check_grads`) tests ``grad_fn`` like any table rule, and names it
when it is wrong.
"""

import functools
import inspect
import threading

from ..primitives.primitive import Primitive, bind
from ..recording import state as _recording
from ..tensor import Tensor
from ..variable import Variable
from ._convert import convert_to_tensor

__all__ = ["custom_gradient"]


class _Output(Tensor):
    """The op's result, carrying the ``grad_fn`` of the call that made it."""

    __slots__ = ("grad_fn", "variables")


class _VariableReads:
    """A recorder that notes the trainable Variables the function reads."""

    def __init__(self):
        self.found = {}

    def _record(self, prim, inputs, params, out):
        for x in inputs:
            if isinstance(x, Variable) and x.trainable and x.dtype.kind == "f":
                self.found.setdefault(id(x), x)


def _run_inner(f, args):
    """``f(*args)`` with no tape or tracer seeing its ops; returns (y, grad_fn, variables)."""
    reads = _VariableReads()
    saved = _recording.recorders, _recording.listeners
    _recording.recorders, _recording.listeners = [reads], []
    try:
        result = f(*args)
    finally:
        _recording.recorders, _recording.listeners = saved
    if not (isinstance(result, (tuple, list)) and len(result) == 2 and callable(result[1])):
        raise TypeError(f"custom_gradient: {f.__name__} must return (y, grad_fn); received "
                        f"{type(result).__name__}")
    y, grad_fn = result
    if not isinstance(y, Tensor):
        y = convert_to_tensor(y)
    return y, grad_fn, list(reads.found.values())


def custom_gradient(f=None):
    """Decorator: ``f(*xs)`` returns ``(y, grad_fn)``; ``grad_fn(dy)`` gives the gradients.

    >>> import chainrule as cr
    >>> @cr.custom_gradient
    ... def clipped_identity(x):
    ...     def grad(dy):
    ...         return cr.clip_by_value(dy, -1.0, 1.0)
    ...     return cr.identity(x), grad
    >>> x = cr.constant([5.0])
    >>> with cr.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = clipped_identity(x) * 10.0
    >>> tape.gradient(y, x).numpy()
    array([1.], dtype=float32)
    """
    if f is None:
        return custom_gradient
    name = getattr(f, "__name__", "function")
    pending = threading.local()  # the value of the call in progress, for the forward

    def forward(*arrays, n_args):
        value = getattr(pending, "value", None)
        if value is not None:
            pending.value = None
            return value
        # A replayed graph calls the forward with new values: run the function again.
        y, _, _ = _run_inner(f, [Tensor._wrap(a) for a in arrays[:n_args]])
        return y._value

    def vjp(g, out, *inputs, n_args):
        grad_fn = getattr(out, "grad_fn", None)
        variables = getattr(out, "variables", None)
        if grad_fn is None:  # an output made by a replay: recompute to get its grad_fn
            _, grad_fn, variables = _run_inner(f, list(inputs[:n_args]))
        if variables:
            if "variables" not in inspect.signature(grad_fn).parameters:
                raise TypeError(f"custom_gradient: {name} reads Variables "
                                f"{[v.name for v in variables]}, so its grad_fn must accept "
                                f"variables=None and return (input_grads, variable_grads)")
            input_grads, variable_grads = grad_fn(g, variables=variables)
        else:
            input_grads, variable_grads = grad_fn(g), []
        input_grads = list(input_grads) if isinstance(input_grads, (tuple, list)) else [input_grads]
        if len(input_grads) != n_args or len(variable_grads) != len(inputs) - n_args:
            raise ValueError(f"custom_gradient: {name}'s grad_fn returned "
                             f"{len(input_grads)} input gradient(s) and {len(variable_grads)} "
                             f"Variable gradient(s) for {n_args} input(s) and "
                             f"{len(inputs) - n_args} Variable(s)")
        grads = [None if gx is None else convert_to_tensor(gx, dtype=x.dtype)
                 for gx, x in zip(input_grads + list(variable_grads), inputs)]
        return tuple(grads)

    prim = Primitive(f"custom_gradient({name})", forward, vjp=vjp)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if kwargs:
            raise TypeError(f"custom_gradient: {name} takes its tensors as positional "
                            f"arguments; received keyword(s) {', '.join(kwargs)}")
        tensors = [a if isinstance(a, Tensor) else convert_to_tensor(a) for a in args]
        y, grad_fn, variables = _run_inner(f, tensors)
        pending.value = y._value
        try:
            out = bind(prim, tensors + variables, {"n_args": len(tensors)}, result_type=_Output)
        finally:
            pending.value = None
        out.grad_fn, out.variables = grad_fn, variables
        return out

    wrapper.primitive = prim
    return wrapper
