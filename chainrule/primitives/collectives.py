"""Collective primitives: ``all_reduce``, the one op of data-parallel training.

``all_reduce(x, communicator=c, op="mean")`` combines ``x`` over the ranks of ``c`` (sum
or mean, every rank receiving the result). It is an ordinary primitive: the tape records it,
a trace captures it as a node (so a graph's listing and drawing show where the communication
is), and the compiled executor runs it through its forward. The communicator is a static
parameter, like an axis.

Its derivative: each rank's ``x`` reaches every rank's output, so the gradient of ``x`` is
the same collective applied to the output gradients (the sum of all ranks' output gradients,
or their mean for ``op="mean"``). On one process it is the identity.

While a function is being traced (:func:`chainrule.function`, compiled Keras steps) the op
does not communicate: a tracing run's values are thrown away and the graph is run again,
and ranks may trace at different steps (a shard of a new shape on one rank only), so a
collective there could pair with another rank's real one. It returns a copy of ``x``.
"""

import numpy as np

from .. import recording
from .table import defprimitive

__all__ = ["all_reduce"]


def all_reduce_forward(x, communicator, op):
    if recording.state.listeners:  # a tracing run (see the module docstring)
        return np.array(x, copy=True, order="C")
    # into a new array, never in place: x may be read elsewhere
    return communicator.all_reduce(x, op, out=np.empty(np.shape(x), np.result_type(x)))


def all_reduce_vjp(g, out, x, communicator, op):
    return (all_reduce(g, communicator=communicator, op=op),)


all_reduce = defprimitive("all_reduce", all_reduce_forward, all_reduce_vjp)
