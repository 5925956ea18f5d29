"""Rewriting a graph into the program the compiled executor runs.

A :class:`~.program.Program` is the graph's nodes as :class:`~.program.Op` s after passes
that keep every number the same. None of them knows any model, layer or op sequence; each
reads only what the primitive table says of a primitive:

* **inlining**: an effect that can say what it does as a graph (its ``inline`` method;
  ``apply_gradients`` gives its optimizer's ``update_step`` for every variable) is replaced
  by that graph's nodes, so the update runs as the program's own fused loops rather than
  through a call per variable;
* **lowering**: a primitive with a ``decompose`` (``dense``: a product plus a bias add;
  ``sigmoid``: its multiply-tanh-add steps) is replaced by its parts, so they can fuse with
  their neighbours;
* **constant folding**: an op whose inputs are all constants (the ``1 / n`` seed of a mean's
  gradient, broadcast and reshaped) is computed once, at compile time;
* **common subexpressions**: the same pure primitive on the same inputs with the same
  parameters is computed once (a softmax taken for the metrics and again by the
  cross-entropy's gradient);
* **dead ops** (no reader, no effect, not stateful) are dropped;
* **fusion** (:mod:`.fusion`): chains of element-wise ops, the column sums that read them and
  the Variable updates they feed become one loop each;
* **shared scans**: products that read the same left operand (a layer's ``x @ kernel`` and
  its kernel gradient ``x.T @ g``) share one :class:`~chainrule.primitives.kernels.ColumnScan`,
  so that operand's zero columns are found and packed once per run.

An op of the program may have several outputs (a fused loop); effects (Variable updates,
``apply_gradients``) have none.
"""

import numpy as np

from ..graph.graph import CONSTANT, RESULT, VARIABLE, Value
from ..primitives import Primitive, kernels
from .fusion import fuse
from .program import Op, Program

__all__ = ["rewrite"]

# A folded constant up to this many elements is stored contiguous (a larger broadcast view
# stays a view: it costs no memory).
_SMALL = 1 << 20


def rewrite(graph, fusion=None):
    """The :class:`Program` for ``graph``. ``fusion`` (default: when the numba kernels are
    in use) turns element-wise chains into compiled loops."""
    if fusion is None:
        fusion = kernels.numba_module() is not None
    values = _Values(len(graph.values))
    ops = [Op(n.prim, n.inputs, n.params, () if n.output is None else (n.output,))
           for n in graph.nodes]
    alias = {}  # value index -> the value that replaces it
    ops = _inline(ops, graph, values)
    ops = _lower(ops, values) if fusion else ops
    ops = _fold_constants(ops, alias, values)
    ops = _share_common(ops, alias)
    outputs = [alias.get(v.index, v) for v in graph.outputs]
    keep = {v.index for v in outputs}
    ops = _drop_dead(ops, keep)
    if fusion:
        ops = fuse(ops, keep)
    ops = _share_column_scans(ops)
    return Program(ops, values.constants, outputs, values.count, values.variables)


class _Values:
    """Makes the values that rewriting adds (lowered intermediates, folded constants, the
    values of inlined graphs)."""

    def __init__(self, count):
        self.count, self.constants, self.variables = count, [], []

    def copy_of(self, v):
        """A new value like ``v`` (a constant keeps its example as it is: a Python number
        stays one, so it combines with arrays as it did when traced)."""
        new = Value(self.count, v.kind, v.shape, v.dtype, v.name, v.example, v.variable)
        self.count += 1
        if v.kind == CONSTANT:
            self.constants.append(new)
        elif v.kind == VARIABLE:
            self.variables.append(new)
        return new

    def result(self, shape, dtype):
        v = Value(self.count, RESULT, tuple(shape), np.dtype(dtype))
        self.count += 1
        return v

    def constant(self, array, name=None, index=None):
        array = np.asarray(array)
        if index is None:
            index, self.count = self.count, self.count + 1
        v = Value(index, CONSTANT, array.shape, array.dtype, name, array)
        self.constants.append(v)
        return v


def _substituted(op, alias):
    if any(v.index in alias for v in op.inputs):
        return Op(op.prim, [alias.get(v.index, v) for v in op.inputs], op.params, op.outputs)
    return op


def _pure(op):
    return isinstance(op.prim, Primitive) and not op.prim.stateful and not op.is_update


def _inline(ops, graph, values):
    """Effects with an ``inline(*inputs, **params)`` that returns a graph over the same
    inputs are replaced by that graph's nodes (recursively). A Variable the program already
    reads keeps its value; the graph's other captures get values of their own."""
    # Only captured Variables: one passed as an argument may be another Variable next call.
    variables = {id(v.variable): v for v in graph.values if v.kind == VARIABLE}
    return _inline_ops(ops, variables, values)


def _inline_ops(ops, variables, values):
    result = []
    for op in ops:
        inline = getattr(op.prim, "inline", None) if op.is_update else None
        inner = inline(*op.inputs, **op.params) if inline is not None else None
        if inner is None:
            result.append(op)
            continue
        if [(v.shape, v.dtype) for v in inner.inputs] != [(v.shape, v.dtype) for v in op.inputs]:
            raise ValueError(f"{op.prim.name}.inline returned a graph whose inputs do not "
                             f"match the node's: {inner.inputs} for {op.inputs}")
        mapping = {v.index: outer for v, outer in zip(inner.inputs, op.inputs)}
        for v in inner.values:
            if v.index in mapping or v.kind == RESULT:
                continue
            if v.variable is not None:
                known = variables.get(id(v.variable))
                if known is None:
                    known = variables[id(v.variable)] = values.copy_of(v)
                mapping[v.index] = known
            else:
                mapping[v.index] = values.copy_of(v)
        nodes = []
        for node in inner.nodes:
            outs = ()
            if node.output is not None:
                out = mapping[node.output.index] = values.result(node.output.shape,
                                                                 node.output.dtype)
                outs = (out,)
            nodes.append(Op(node.prim, [mapping[v.index] for v in node.inputs], node.params,
                            outs))
        result += _inline_ops(nodes, variables, values)
    return result


def _lower(ops, values):
    lowered = []
    for op in ops:
        if not isinstance(op.prim, Primitive) or op.prim.decompose is None:
            lowered.append(op)
            continue
        parts = []

        def emit(prim, *inputs, **params):
            shape, dtype = _infer(prim, inputs, params)
            out = values.result(shape, dtype)
            parts.append(Op(prim, inputs, params, (out,)))
            return out

        emit.constant = lambda value, dtype: values.constant(np.asarray(value, dtype))
        last = op.prim.decompose(emit, *op.inputs, **op.params)
        if last is None or (last.shape, last.dtype) != (op.output.shape, op.output.dtype):
            lowered.append(op)  # the parts do not give the op's own result: keep it whole
            continue
        final = parts[-1]
        parts[-1] = Op(final.prim, final.inputs, final.params, op.outputs)
        lowered += parts
    return lowered


def _infer(prim, inputs, params):
    """The shape and dtype of ``prim(*inputs)``, from its forward on zero-strided dummies."""
    dummies = [np.broadcast_to(np.zeros((), v.dtype), v.shape) for v in inputs]
    out = np.asarray(prim.forward(*dummies, **params))
    return out.shape, out.dtype


def _fold_constants(ops, alias, values):
    kept = []
    for op in ops:
        op = _substituted(op, alias)
        if _pure(op) and op.inputs and all(v.kind == CONSTANT for v in op.inputs):
            out = op.output
            # Examples as captured: a Python number stays one, so it combines as it did.
            value = np.asarray(op.prim.forward(*[v.example for v in op.inputs], **op.params))
            if value.size <= _SMALL:  # the kernels read contiguous arrays; a broadcast is not
                value = np.ascontiguousarray(value)
            alias[out.index] = values.constant(value, out.name, index=out.index)
        else:
            kept.append(op)
    return kept


def _share_common(ops, alias):
    seen, kept = {}, []
    for op in ops:
        op = _substituted(op, alias)
        if op.is_update:  # values read after an update may differ from those before it
            seen.clear()
        key = None
        if _pure(op):
            try:
                key = (op.prim, tuple(v.index for v in op.inputs),
                       tuple(sorted(op.params.items())))
                hash(key)
            except TypeError:  # an index array among the params: leave the op alone
                key = None
        first = seen.get(key) if key is not None else None
        if first is not None:
            alias[op.output.index] = first.output
            continue
        if key is not None:
            seen[key] = op
        kept.append(op)
    return kept


def _drop_dead(ops, keep):
    needed, kept = set(keep), []
    for op in reversed(ops):
        if not _pure(op) or any(v.index in needed for v in op.outputs):
            kept.append(op)
            needed.update(v.index for v in op.inputs)
    kept.reverse()
    return kept


def _share_column_scans(ops):
    """Products whose left operands are the same array (``x``, or its transpose ``x.T``)
    share one ColumnScan; the first of them in the program starts it afresh at every run.
    Only products large enough to be searched for zero lines take part."""
    transposed_from = {op.output.index: op.inputs[0] for op in ops
                       if getattr(op.prim, "transposes", False) and len(op.output.shape) == 2}
    users = {}
    for op in ops:
        if getattr(op.prim, "product", False) and len(op.output.shape) == 2 and \
                kernels.searched(op.inputs[0].shape, op.inputs[1].shape):
            left = op.inputs[0]
            base = transposed_from.get(left.index, left)
            users.setdefault(base.index, []).append(op)
    shared = {}
    for products in users.values():
        if len(products) < 2:
            continue
        scan = kernels.ColumnScan()
        for position, op in enumerate(products):
            shared[id(op)] = Op(op.prim, op.inputs, {**op.params, "scan": scan,
                                                     "first": position == 0}, op.outputs)
    return [shared.get(id(op), op) for op in ops]
