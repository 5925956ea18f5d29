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
    # into a new array, never in place: x may be read elsewhere
    return all_reduce_kernel(x, np.empty(np.shape(x), np.result_type(x)), communicator, op)


def all_reduce_kernel(x, out, communicator, op):
    """The collective into ``out``: the compiled executor passes a planned buffer, kept
    between steps (a fresh one costs a page fault per 4 kB on the first write), and when
    ``x`` dies here (a packed gradient buffer) ``x`` itself: the reduction is then made in
    place, without the copy into a separate receive buffer."""
    if recording.state.listeners:  # a tracing run (see the module docstring)
        if out is not x:
            np.copyto(out, x)
        return out
    if out is x:
        return communicator.all_reduce(out, op)
    return communicator.all_reduce(np.asarray(x, order="C"), op, out=out)


def all_reduce_vjp(g, out, x, communicator, op):
    return (all_reduce(g, communicator=communicator, op=op),)


def all_reduce_onnx(emit, x, communicator, op):
    # An ONNX model runs in one process: a collective over that one process alone is x.
    if communicator.size != 1:
        raise ValueError(
            f"all_reduce over {communicator.size} ranks cannot be exported: an ONNX model runs "
            f"in one process, with no ranks to combine with. Export the model's forward "
            f"pass (model.export), which communicates nothing")
    return emit("Identity", x)


all_reduce = defprimitive("all_reduce", all_reduce_forward, vjp=all_reduce_vjp,
                          kernel=all_reduce_kernel, in_place=True, onnx=all_reduce_onnx)
