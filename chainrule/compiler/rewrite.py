"""Rewriting a graph into the program the compiled executor runs.

A :class:`Program` is the graph's nodes as :class:`Op` s, after three rewrites that keep
every number the same:

* **constant folding**: an op whose inputs are all constants (the ``1 / n`` seed of a mean's
  gradient, broadcast and reshaped) is computed once, at compile time;
* **common subexpressions**: the same primitive on the same inputs with the same
  parameters is computed once (a softmax taken for the metrics and again by the
  cross-entropy's gradient);
* **fusion**: a few chains the training step of a dense network is made of become one
  kernel each. Every fused kernel does the float32 operations of the ops it replaces, in
  their order (see :mod:`chainrule.kernels`):

  ==================  ========================================================
  fused op            replaces
  ==================  ========================================================
  ``dense``           ``dense`` (planned: the product written into its buffer)
  ``dense_relu``      ``relu(dense(x, kernel, bias))``
  ``relu_grad``       ``g * (y > 0)`` (relu's VJP), with the column sums of
                      the result when a ``reduce_sum`` over axis 0 reads it
                      (the bias gradient)
  ``softmax_xent``    ``sparse_softmax_cross_entropy(labels, z)`` and
                      ``softmax(z)`` (the loss and the model's probabilities)
  ``sub_one_hot``     ``p - one_hot(labels)`` (the cross-entropy's gradient)
  ``xent_grad``       ``a * (p - one_hot(labels))``, with its column sums when a
                      ``reduce_sum`` over axis 0 reads it
  ``matmul_t``        ``matmul(transpose(a), b)``: the transposed view, no op;
                      a kernel gradient ``x.T @ g`` that only the optimizer
                      reads may come out as ``kernels.SparseRows``
  ==================  ========================================================

A layer's product ``x @ kernel`` and its kernel gradient ``x.T @ g`` also share one
``kernels.ColumnScan``: ``x``'s zero columns, which :func:`chainrule.kernels.matmul` leaves
out, are found and packed once per step instead of twice.

An op of the program may have several outputs (``relu_grad`` with its column sums,
``softmax_xent``); effects (Variable updates, ``apply_gradients``) have none.
"""

import numpy as np

from ..primitives import kernels
from ..graph.graph import CONSTANT, Value
from ..primitives import Primitive

__all__ = ["Op", "Program", "rewrite", "Fused"]

# Primitives that must run at every call: they draw random numbers.
_STATEFUL = {"random"}
# A folded constant up to this many elements is stored contiguous (a larger broadcast view
# stays a view: it costs no memory).
_SMALL = 1 << 20


class Op:
    """One step of a program: ``outputs = prim(*inputs, **params)``."""

    __slots__ = ("prim", "inputs", "params", "outputs")

    def __init__(self, prim, inputs, params, outputs):
        self.prim, self.inputs, self.params = prim, tuple(inputs), params
        self.outputs = tuple(outputs)

    @property
    def is_update(self):
        return not self.outputs

    @property
    def output(self):
        return self.outputs[0] if self.outputs else None

    def __repr__(self):
        outs = ", ".join(v.ref for v in self.outputs)
        return f"<Op {outs} = {self.prim.name}({', '.join(v.ref for v in self.inputs)})>"


class Program:
    """A graph rewritten for the executor: ``ops`` in order, the ``constants`` folding
    made, and the graph's ``outputs`` (a folded or shared value may stand for one)."""

    def __init__(self, ops, constants, outputs):
        self.ops, self.constants, self.outputs = ops, constants, outputs


class Fused:
    """A pseudo-primitive standing for several ops that one kernel computes.

    ``step(op, input registers, output buffers)`` returns the function of the register
    list that runs ``op``; ``in_place``: its first output may be written over its *first*
    input (when that input dies there).
    """

    vjp = None
    why = "it exists only inside a compiled program"

    def __init__(self, name, step, in_place=False):
        self.name, self.step, self.in_place = name, step, in_place

    def __repr__(self):
        return f"<fused {self.name}>"


def rewrite(graph):
    """The :class:`Program` for ``graph``."""
    ops = [Op(n.prim, n.inputs, n.params, () if n.output is None else (n.output,))
           for n in graph.nodes]
    alias = {}  # value index -> the value that replaces it
    ops, constants = _fold_constants(ops, alias)
    ops = _share_common(ops, alias)
    outputs = [alias.get(v.index, v) for v in graph.outputs]
    keep = {v.index for v in outputs}
    for rule in (_softmax_xent, _dense_relu, _relu_grad, _sub_one_hot, _xent_grad, _dense,
                 _transposed_matmul, _sparse_kernel_gradient, _shared_column_scans):
        ops = rule(ops, keep)
    return Program(ops, constants, outputs)


def _substituted(op, alias):
    if any(v.index in alias for v in op.inputs):
        return Op(op.prim, [alias.get(v.index, v) for v in op.inputs], op.params, op.outputs)
    return op


def _pure(op):
    return isinstance(op.prim, Primitive) and op.prim.name not in _STATEFUL and not op.is_update


def _fold_constants(ops, alias):
    kept, constants = [], []
    for op in ops:
        op = _substituted(op, alias)
        if _pure(op) and op.inputs and all(v.kind == CONSTANT for v in op.inputs):
            out = op.output
            # Examples as captured: a Python number stays one, so it combines as it did.
            value = np.asarray(op.prim.forward(*[v.example for v in op.inputs], **op.params))
            if value.size <= _SMALL:  # the kernels read contiguous arrays; a broadcast is not
                value = np.ascontiguousarray(value)
            folded = Value(out.index, CONSTANT, out.shape, out.dtype, out.name, value)
            alias[out.index] = folded
            constants.append(folded)
        else:
            kept.append(op)
    return kept, constants


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


# -- fusion rules: each takes the op list and the indices of values read outside it ------

def _readers(ops):
    readers = {}
    for op in ops:
        for v in op.inputs:
            readers.setdefault(v.index, []).append(op)
    return readers


def _producers(ops):
    return {v.index: op for op in ops for v in op.outputs}


def _only_reader(value, op, readers, keep):
    """Whether ``op`` is the one reader of ``value`` (so a fused kernel may skip it)."""
    return value.index not in keep and [r for r in readers.get(value.index, ())] == [op]


def _float32_2d(*values):
    return all(v.dtype == np.float32 and len(v.shape) == 2 for v in values)


def _dense(ops, keep):
    """A 2-D ``dense`` computes its product straight into its planned buffer."""
    return [Op(DENSE, op.inputs, {}, op.outputs)
            if op.prim.name == "dense" and _float32_2d(op.output) else op for op in ops]


def _dense_relu(ops, keep):
    readers, producers = _readers(ops), _producers(ops)
    fused, drop = {}, set()
    for op in ops:
        if op.prim.name != "relu" or not _float32_2d(op.output):
            continue
        d = producers.get(op.inputs[0].index)
        if d is not None and d.prim.name == "dense" and _only_reader(d.output, op, readers, keep):
            fused[id(op)] = Op(DENSE_RELU, d.inputs, {}, op.outputs)
            drop.add(id(d))
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


def _relu_grad(ops, keep):
    readers, producers = _readers(ops), _producers(ops)
    fused, drop = {}, set()

    def relu_mask(value, reader):
        """The ops making ``value`` = ``y > 0`` (optionally cast to float), read only by
        ``reader``; None when it is anything else."""
        if not _only_reader(value, reader, readers, keep):
            return None
        made_by = producers.get(value.index)
        chain = []
        if made_by is not None and made_by.prim.name == "cast":
            chain.append(made_by)
            if not _only_reader(made_by.inputs[0], made_by, readers, keep):
                return None
            made_by = producers.get(made_by.inputs[0].index)
        if made_by is None or made_by.prim.name != "greater":
            return None
        return chain + [made_by]

    for op in ops:
        if op.prim.name != "multiply" or not _float32_2d(op.output):
            continue
        g, c = op.inputs
        chain = relu_mask(c, op)
        if chain is None:
            g, c = c, g  # the mask may come first
            chain = relu_mask(c, op)
        if chain is None:
            continue
        y, zero = chain[-1].inputs
        if zero.kind != CONSTANT or np.any(np.asarray(zero.example) != 0) or \
                y.shape != op.output.shape or g.shape != op.output.shape or \
                not _float32_2d(y, g):
            continue
        outputs = (op.output,) + _column_sums(op.output, readers, drop)  # the bias gradient
        fused[id(op)] = Op(RELU_GRAD, (g, y), {}, outputs)
        drop.update(id(o) for o in chain)
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


def _transposed_matmul(ops, keep):
    """``matmul(transpose(a), b)`` on 2-D operands reads ``a.T`` (a view) itself."""
    readers, producers = _readers(ops), _producers(ops)

    def is_2d_matmul(op):
        return op.prim.name == "matmul" and len(op.output.shape) == 2

    def folded(v):  # a 2-D transpose that only 2-D matmuls read
        t = producers.get(v.index)
        return t is not None and t.prim.name == "transpose" and len(v.shape) == 2 and \
            v.index not in keep and all(is_2d_matmul(r) for r in readers[v.index])

    fused, drop = {}, set()
    for op in ops:
        if not is_2d_matmul(op) or not any(folded(v) for v in op.inputs):
            continue
        flags = tuple(folded(v) for v in op.inputs)
        inputs = [producers[v.index].inputs[0] if f else v for v, f in zip(op.inputs, flags)]
        drop.update(id(producers[v.index]) for v, f in zip(op.inputs, flags) if f)
        fused[id(op)] = Op(MATMUL_T, inputs, {"transposed": flags}, op.outputs)
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


def _sparse_kernel_gradient(ops, keep):
    """A kernel gradient ``x.T @ g`` that only an optimizer reads may stay a
    :class:`~chainrule.kernels.SparseRows` (its rows for the inputs that were zero in the
    whole batch are zero): the optimizer then skips those rows' arithmetic."""
    readers = _readers(ops)
    marked = {}
    for op in ops:
        if op.prim is MATMUL_T and op.params["transposed"] == (True, False) and \
                op.output.index not in keep and readers.get(op.output.index) and \
                all(r.is_update and r.prim.name == "apply_gradients"
                    for r in readers[op.output.index]):
            marked[id(op)] = Op(MATMUL_T, op.inputs, {**op.params, "sparse_rows": True},
                                op.outputs)
    return [marked.get(id(op), op) for op in ops]


def _shared_column_scans(ops, keep):
    """A layer's ``x @ kernel`` and its kernel gradient ``x.T @ g`` read the same ``x``:
    they share one :class:`~chainrule.kernels.ColumnScan`, so ``x``'s zero columns are
    found and packed once per step. The first of them starts each run afresh."""
    users = {}
    for op in ops:
        if (op.prim in (DENSE, DENSE_RELU) or
                (op.prim is MATMUL_T and op.params["transposed"] == (True, False))):
            users.setdefault(op.inputs[0].index, []).append(op)
    scanned = {}
    for pair in users.values():
        if len(pair) < 2 or not any(op.prim is MATMUL_T for op in pair):
            continue
        scan = kernels.ColumnScan()
        for position, op in enumerate(pair):
            scanned[id(op)] = Op(op.prim, op.inputs,
                                 {**op.params, "scan": scan, "forget": position == 0},
                                 op.outputs)
    return [scanned.get(id(op), op) for op in ops]


def _softmax_xent(ops, keep):
    """The cross-entropy and the softmax of the same logits, in one pass at the place of the
    cross-entropy (so only a softmax taken after it can join it)."""
    fused, drop = {}, set()
    for i, op in enumerate(ops):
        if op.prim.name != "sparse_softmax_cross_entropy":
            continue
        labels, logits = op.inputs
        if not _float32_2d(logits) or len(labels.shape) != 1 or labels.dtype.kind not in "iu":
            continue
        later = [sm for sm in ops[i + 1:] if sm.prim.name == "softmax" and id(sm) not in drop
                 and sm.inputs[0].index == logits.index and sm.params["axis"] == 1]
        outputs = op.outputs
        if later:
            outputs += later[0].outputs
            drop.add(id(later[0]))
        fused[id(op)] = Op(SOFTMAX_XENT, op.inputs, {}, outputs)
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


def _xent_grad(ops, keep):
    """``a * (p - one_hot(labels))`` (with its column sums when a ``reduce_sum`` over axis 0
    reads it): the cross-entropy's gradient at the logits, and the bias gradient."""
    readers, producers = _readers(ops), _producers(ops)
    fused, drop = {}, set()
    for op in ops:
        if op.prim.name != "multiply" or not _float32_2d(op.output):
            continue
        for a, d in (op.inputs, op.inputs[::-1]):
            sub = producers.get(d.index)
            if sub is not None and sub.prim is SUB_ONE_HOT and \
                    _only_reader(d, op, readers, keep) and \
                    a.shape == (op.output.shape[0], 1) and a.dtype == np.float32:
                break
        else:
            continue
        outputs = (op.output,) + _column_sums(op.output, readers, drop)
        fused[id(op)] = Op(XENT_GRAD, sub.inputs + (a,), {}, outputs)
        drop.add(id(sub))
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


def _column_sums(value, readers, drop):
    """The output of a ``reduce_sum`` over axis 0 of a 2-D ``value`` (a bias gradient), as
    a 1-tuple, and that op put in ``drop``; or ``()``."""
    for r in readers.get(value.index, ()):
        if r.prim.name == "reduce_sum" and r.params.get("axis") == (0,) and \
                not r.params.get("keepdims") and id(r) not in drop:
            drop.add(id(r))
            return (r.output,)
    return ()


def _sub_one_hot(ops, keep):
    readers, producers = _readers(ops), _producers(ops)
    fused, drop = {}, set()
    for op in ops:
        if op.prim.name != "subtract" or not _float32_2d(op.output):
            continue
        p, o = op.inputs
        oh = producers.get(o.index)
        if oh is None or oh.prim.name != "one_hot" or not _only_reader(o, op, readers, keep) \
                or p.shape != op.output.shape or len(oh.inputs[0].shape) != 1:
            continue
        fused[id(op)] = Op(SUB_ONE_HOT, (p, oh.inputs[0]), {}, op.outputs)
        drop.add(id(oh))
    return [fused.get(id(op), op) for op in ops if id(op) not in drop]


# -- the fused kernels' steps --------------------------------------------------------------

def _scan(op):
    """The op's shared ColumnScan and whether it starts each run (see
    ``_shared_column_scans``)."""
    return op.params.get("scan"), op.params.get("forget", False)


def _dense_steps(finish):
    """The step maker for a dense product into its buffer, then ``finish(buf, bias)``."""
    def make(op, ins, outs):
        x, k, b = ins
        (buf,) = outs
        scan, forget = _scan(op)

        def step(r):
            if forget:
                scan.forget()
            kernels.matmul(r[x], r[k], out=buf, scan=scan)
            finish(buf, r[b])
        return step
    return make


# dense's forward: the product, then += bias; dense_relu: bias + relu in one pass
_dense_step = _dense_steps(lambda buf, bias: np.add(buf, bias, out=buf))
_dense_relu_step = _dense_steps(lambda buf, bias: kernels.bias_relu(buf, bias, buf))


def _matmul_t_step(op, ins, outs):
    (a, b), (ta, tb) = ins, op.params["transposed"]
    (buf,) = outs
    scan, forget = _scan(op)
    sparse = op.params.get("sparse_rows", False)
    if scan is not None or sparse:  # a kernel gradient x.T @ g (see the rules above)
        out = op.output.index

        def step(r):
            if forget:
                scan.forget()
            r[out] = kernels.matmul(r[a].T, r[b], out=buf, sparse_rows=sparse, scan=scan)
        return step
    if ta and tb:
        return lambda r: kernels.matmul(r[a].T, r[b].T, out=buf)
    if ta:
        return lambda r: kernels.matmul(r[a].T, r[b], out=buf)
    return lambda r: kernels.matmul(r[a], r[b].T, out=buf)


def _relu_grad_step(op, ins, outs):
    g, y = ins
    if len(outs) == 2:
        buf, sums = outs
        return lambda r: kernels.relu_grad(r[g], r[y], buf, sums)
    (buf,) = outs
    sums = np.empty(buf.shape[1], buf.dtype)  # no one reads them: a scratch buffer
    return lambda r: kernels.relu_grad(r[g], r[y], buf, sums)


def _softmax_xent_step(op, ins, outs):
    labels, logits = ins
    n, classes = op.inputs[1].shape
    losses, probs = outs if len(outs) == 2 else (outs[0], np.empty((n, classes), np.float32))
    normalize = len(outs) == 2
    sums = np.empty(n, np.float32)
    return lambda r: kernels.softmax_cross_entropy(r[logits], r[labels], losses, probs, sums,
                                                   normalize)


def _xent_grad_step(op, ins, outs):
    p, labels, a = ins
    buf = outs[0]
    sums = outs[1] if len(outs) == 2 else np.empty(buf.shape[1], buf.dtype)
    return lambda r: kernels.cross_entropy_grad(r[p], r[labels], r[a], buf, sums)


def _sub_one_hot_step(op, ins, outs):
    p, labels_at = ins
    (buf,) = outs
    rows = np.arange(buf.shape[0])
    depth = buf.shape[1]
    unsigned = op.inputs[1].dtype.kind == "u"

    def step(r):
        labels = r[labels_at]
        if buf is not r[p]:
            np.copyto(buf, r[p])
        if labels.max() >= depth or (not unsigned and labels.min() < 0):
            valid = (labels >= 0) & (labels < depth)  # one_hot gives a row of zeros there
            buf[rows[valid], labels[valid]] -= 1
        else:  # p - 1 where the label is, p - 0 = p elsewhere: the numbers of the subtract
            buf[rows, labels] -= 1
    return step


MATMUL_T = Fused("matmul_t", _matmul_t_step)
DENSE = Fused("dense", _dense_step)
DENSE_RELU = Fused("dense_relu", _dense_relu_step)
RELU_GRAD = Fused("relu_grad", _relu_grad_step, in_place=True)
SOFTMAX_XENT = Fused("softmax_xent", _softmax_xent_step)
SUB_ONE_HOT = Fused("sub_one_hot", _sub_one_hot_step, in_place=True)
XENT_GRAD = Fused("xent_grad", _xent_grad_step, in_place=True)
