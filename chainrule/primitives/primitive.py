"""What a primitive is, and the one call path every primitive goes through.

A :class:`Primitive` pairs a NumPy forward function with its vector-Jacobian product
(VJP). :func:`bind` runs the forward on the inputs' arrays, wraps the result, and hands
the call to every active recorder of the thread (gradient tapes, graph tracers) so they can keep it.
When nothing records, an op costs one NumPy call and one small object.

VJP signature, the same for every primitive::

    def name_vjp(g, out, *inputs, **params) -> tuple of gradients, one per input

``g`` is the gradient flowing into the output, ``out`` the forward result, ``inputs`` the
input tensors and ``params`` the op's static parameters (axis, shape, ...). A VJP that
declares a keyword ``needs`` receives a tuple of booleans telling which inputs want a
gradient, so it can skip the rest (a matmul then skips the gradient of a model's input).
``None`` in the returned tuple means "no gradient" (zero, or not differentiable there).
Rules are written with recorded ops (the table's primitives and Tensor's operators), so a
tape that is active while a gradient is computed records the backward pass too: that is how
second derivatives work.

Every field after the name and the forward is given by keyword.

What the compiled executor (:mod:`chainrule.compiler`) needs is in the table too, next to
the forward and the rule, so that it never keeps a list of its own:

* ``kernel(*arrays, out=buffer, **params)``: the forward written into a given buffer, with
  the forward's numbers (a ufunc for most element-wise ops);
* ``scalar(*operands, **params)``: for element-wise ops, the op on one element as a Python
  expression over the operands' expressions (``"({0} + {1})"``); the compiler fuses chains
  of such ops into one loop. Only ops whose one-element form rounds exactly as NumPy's
  array loop does have one (no ``exp``, ``log``, ``tanh``: their library versions differ
  in the last bit; ``expm1``'s kernel is a numba loop of the very call its scalar form
  makes, so it has one);
* ``operands``: how a scalar form wants its operands: ``"result"`` (converted to the result
  dtype, as NumPy's arithmetic does), ``"common"`` (to their common dtype: comparisons) or
  ``"as_is"``;
* ``decompose(emit, *inputs, **params)``: the op as other primitives (``dense`` is a
  product plus a bias add), for the compiler to fuse its parts with their neighbours;
* ``in_place``: the kernel may be given as ``out`` an input of the result's shape and dtype
  that nothing reads afterwards (element-wise ops may always; ``all_reduce`` then reduces
  in place, with no copy of the buffer);
* ``specialize(shapes, dtypes, **params)``: a kernel for inputs of exactly these shapes
  and dtypes, chosen once when a program is planned, or None to keep ``kernel`` (a product
  too small to be searched for zero lines is then a bare ``np.matmul``);
* ``stateful``: the op must run at every call (a random draw): never folded or shared.
* ``product``: the op is a matrix product ``a @ b`` whose kernel takes a
  :class:`~.kernels.ColumnScan` (``scan=``, ``first=``): products reading the same left
  operand may share one;
* ``transposes``: the result is the input with its axes permuted (``perm``; by default
  reversed), a view of it;
* ``sums``: the op adds up its input over ``axis`` (``keepdims`` keeps the axes), in NumPy's
  order: a sum over every axis but the last can join a fused loop as a column sum.

And what the tools around the tape need to know about an op, so that none of them keeps a
list of op names:

* ``why``: for a non-differentiable primitive, why, in words (an explanation of a None
  gradient quotes it);
* ``cut_reason``: for a differentiable one whose rule may return None for an input, what
  that means, in words, naming the op (``stop_gradient`` cuts on purpose; ``cast`` to an
  integer dtype carries no gradient);
* ``describe_error(*inputs, **params)``: a sentence on why inputs do not fit, or None;
* ``kink``: a :class:`Kink`, where the derivative jumps (relu at 0, maximum at a tie): a
  gradient check reports a point there instead of failing on it;
* ``dead_when_zero``: for an activation, a unit whose output is 0 for every example is
  dead (no gradient reaches its weights): training diagnostics count such units;
* ``logits_input``: which input holds logits (softmax, sigmoid, the fused cross-entropy),
  whose spread training diagnostics watch.

And how the op leaves chainrule:

* ``onnx(emit, *inputs, **params)``: the op as ONNX operators (opset
  :data:`ONNX_OPSET`), for :func:`chainrule.onnx.export`. ``emit(op_type, *inputs,
  **attributes)`` adds one node and returns its output; ``emit.constant(value, dtype)`` a
  constant. An input carries ``shape`` (``None`` for a dimension left dynamic, such as the
  batch), ``ndim`` and ``dtype``; a dtype may be given as an attribute (``to=x.dtype``). The
  lowering returns the op's result. A primitive without one cannot be exported, and the
  exporter says so, naming it. The table itself never imports ``onnx``.
"""

import inspect
from typing import Callable, NamedTuple

from ..recording import state as _recording
from ..tensor import Tensor

_NO_PARAMS = {}

# The ONNX operator set the table's lowerings are written for.
ONNX_OPSET = 18


class OpError(ValueError):
    """An op received inputs it cannot combine (shapes, dtypes); the message names the op."""


class OpIndexError(OpError, IndexError):
    """An index out of range: TensorFlow's InvalidArgumentError, and Python's IndexError."""


class Kink(NamedTuple):
    """Where a primitive's derivative jumps: ``distance(*input_arrays)`` is an array that
    changes sign at the switching point (and is 0 on it); ``where`` names the point in
    words, completing "the point where ..." (``"its input is 0"``)."""

    distance: Callable
    where: str


class Primitive:
    """A named NumPy forward function, its VJP (``None`` when not differentiable), and the
    other facts about the op listed in this module's docstring, each a keyword field."""

    __slots__ = ("name", "forward", "vjp", "vjp_wants_needs", "describe_error", "why",
                 "cut_reason", "kernel", "scalar", "operands", "decompose", "stateful",
                 "in_place", "specialize", "kink", "dead_when_zero", "logits_input", "onnx",
                 "product", "transposes", "sums")

    def __init__(self, name, forward, *, vjp=None, describe_error=None, why=None,
                 cut_reason=None, kernel=None, scalar=None, operands="result", decompose=None,
                 stateful=False, in_place=False, specialize=None, kink=None,
                 dead_when_zero=False, logits_input=None, onnx=None,
                 product=False, transposes=False, sums=False):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.vjp_wants_needs = vjp is not None and "needs" in inspect.signature(vjp).parameters
        self.describe_error = describe_error
        self.why, self.cut_reason = why, cut_reason
        self.kernel, self.scalar, self.operands = kernel, scalar, operands
        self.decompose = decompose
        self.stateful = stateful
        self.in_place = in_place or scalar is not None
        self.specialize = specialize
        self.kink = kink
        self.dead_when_zero = dead_when_zero
        self.logits_input = logits_input
        self.onnx = onnx
        self.product, self.transposes, self.sums = product, transposes, sums

    @property
    def elementwise(self):
        return self.scalar is not None

    @property
    def differentiable(self):
        return self.vjp is not None

    def __call__(self, *inputs, **params):
        return bind(self, inputs, params)

    def __repr__(self):
        return f"<primitive {self.name}>"


def bind(prim, inputs, params=_NO_PARAMS, result_type=Tensor):
    """Runs ``prim`` on ``inputs`` (Tensors) and lets the active recorders see the call."""
    try:
        out = prim.forward(*[x._value for x in inputs], **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _op_error(prim, inputs, params, e) from e
    result = object.__new__(result_type)
    result._value = out
    recorders = _recording.recorders
    if recorders:
        for recorder in recorders:
            recorder._record(prim, inputs, params, result)
    return result


def _op_error(prim, inputs, params, error):
    shapes = ", ".join(str(x.shape) for x in inputs)
    detail = prim.describe_error(*inputs, **params) if prim.describe_error else None
    if detail is None:
        detail = f"inputs of shapes {shapes} and dtypes {', '.join(x.dtype.name for x in inputs)}: {error}"
    kind = type(error) if isinstance(error, TypeError) else \
        OpIndexError if isinstance(error, IndexError) else OpError
    return kind(f"{prim.name}: {detail}")
