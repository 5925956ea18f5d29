"""``data_parallel(graph)``: a captured training step turned into its data-parallel form.

A training step captured by :func:`chainrule.function` ends in an ``apply_gradients`` node
whose inputs alternate weight and gradient (``apply_gradients(w1, g1, w2, g2, ...)``). Run on
every rank on that rank's share of the batch, the step is data-parallel once each gradient
is replaced by its mean over the ranks before the update. The rewrite does exactly that, on
the graph as data::

    %g  = ...                                   gradients, as before
    %f1 = reshape(%g1, shape=(n1,))             flattened
    %p  = concat(%f1, %f2, ..., axis=0)         packed into one buffer
    %r  = all_reduce(%p, communicator=..., op='mean')
    %s1 = getitem(%r, index=slice(0, n1))       cut back (views, no copy)
    %u1 = reshape(%s1, shape=w1.shape)
    apply_gradients(w1, %u1, w2, %u2, ...)

One collective per step (per dtype, or per bucket of ``bucket_bytes``) pays the latency of a
message once instead of once per weight. The result is a :class:`~chainrule.Graph` like any
other: it prints, draws, runs (``graph.run``) and compiles (``chainrule.compiler.compile``).
"""

import numpy as np

from ..graph.graph import RESULT, Graph, Node, Value
from ..primitives import table as P
from ..primitives.collectives import all_reduce as ALL_REDUCE
from .communicator import ReduceOp, get_communicator
from .collective_ops import normalize_op

__all__ = ["data_parallel"]


def data_parallel(graph, communicator=None, op=ReduceOp.MEAN, bucket_bytes=None, pack=True):
    """A copy of ``graph`` in which the gradients every ``apply_gradients`` node reads are
    all-reduced (``op``: "mean", the default, or "sum") over ``communicator`` (the process's
    communicator by default) first.

    ``pack=True`` (the default) flattens the gradients into one buffer per dtype, cut into
    buckets of at most ``bucket_bytes`` when given (a gradient is never split); ``pack=False``
    reduces each gradient on its own. Raises ``ValueError`` when the graph has no
    ``apply_gradients`` node (capture a step that calls ``optimizer.apply_gradients``).

    >>> import numpy as np, chainrule as cr
    >>> from chainrule import keras
    >>> w = cr.Variable(np.ones((2, 3), np.float32), name="w")
    >>> opt = keras.optimizers.SGD(0.1)
    >>> def step(x):
    ...     with cr.GradientTape() as tape:
    ...         loss = cr.reduce_sum(cr.matmul(x, w))
    ...     opt.apply_gradients([(tape.gradient(loss, w), w)])
    ...     return loss
    >>> graph = cr.function(step).get_graph(np.ones((4, 2), np.float32))
    >>> [n.prim.name for n in data_parallel(graph)][-2:]
    ['all_reduce', 'apply_gradients']
    """
    communicator = get_communicator() if communicator is None else communicator
    op = normalize_op(op)
    if bucket_bytes is not None and bucket_bytes <= 0:
        raise ValueError(f"data_parallel: bucket_bytes must be positive; received {bucket_bytes}")
    if not any(n.is_update and n.prim.name == "apply_gradients" for n in graph.nodes):
        found = sorted({n.prim.name for n in graph.nodes if n.is_update}) or "none"
        raise ValueError(
            f"data_parallel: graph '{graph.name}' has no apply_gradients node (updates found: "
            f"{found}); capture a whole training step, one that calls "
            f"optimizer.apply_gradients, with chainrule.function(step).get_graph(...)")
    return _Rewriter(graph, communicator, op, bucket_bytes, pack).result


class _Rewriter:
    def __init__(self, graph, communicator, op, bucket_bytes, pack):
        self.comm, self.op, self.bucket_bytes, self.pack = communicator, op, bucket_bytes, pack
        # Copies of every value (same indices), so the original graph is left as it was.
        self.values = [Value(v.index, v.kind, v.shape, v.dtype, v.name, v.example, v.variable)
                       for v in graph.values]
        self.nodes = []
        for node in graph.nodes:
            ins = [self.values[v.index] for v in node.inputs]
            if node.is_update and node.prim.name == "apply_gradients":
                ins[1::2] = self._reduced(ins[1::2])
            out = None if node.output is None else self.values[node.output.index]
            self._emit(node.prim, ins, node.params, out)
        self.result = Graph(self.values, self.nodes, [self.values[v.index] for v in graph.inputs],
                            [self.values[v.index] for v in graph.outputs],
                            f"{graph.name}_data_parallel")

    def _emit(self, prim, inputs, params, out):
        node = Node(len(self.nodes), prim, tuple(inputs), dict(params), out)
        if out is not None:
            out.producer = node
        self.nodes.append(node)
        return out

    def _new(self, prim, inputs, params, shape, dtype):
        out = Value(len(self.values), RESULT, tuple(shape), dtype)
        self.values.append(out)
        return self._emit(prim, inputs, params, out)

    def _all_reduce(self, v):
        return self._new(ALL_REDUCE, [v], {"communicator": self.comm, "op": self.op},
                         v.shape, v.dtype)

    def _reduced(self, grads):
        if not self.pack:
            return [self._all_reduce(g) for g in grads]
        out = list(grads)
        for members in self._buckets(grads):
            if len(members) == 1:
                out[members[0]] = self._all_reduce(grads[members[0]])
                continue
            flat = [self._flat(grads[i]) for i in members]
            total = sum(f.shape[0] for f in flat)
            packed = self._new(P.concat, flat, {"axis": 0}, (total,), flat[0].dtype)
            reduced = self._all_reduce(packed)
            start = 0
            for i, f in zip(members, flat):
                g, size = grads[i], f.shape[0]
                piece = self._new(P.getitem, [reduced], {"index": slice(start, start + size)},
                                  (size,), g.dtype)
                out[i] = piece if len(g.shape) == 1 else \
                    self._new(P.reshape, [piece], {"shape": g.shape}, g.shape, g.dtype)
                start += size
        return out

    def _flat(self, g):
        size = int(np.prod(g.shape, dtype=np.int64))
        if len(g.shape) == 1:
            return g
        return self._new(P.reshape, [g], {"shape": (size,)}, (size,), g.dtype)

    def _buckets(self, grads):
        """Indices of ``grads`` grouped by dtype, in order, each group cut into buckets of
        at most ``bucket_bytes`` (a single larger gradient gets a bucket of its own)."""
        by_dtype = {}
        for i, g in enumerate(grads):
            by_dtype.setdefault(np.dtype(g.dtype), []).append(i)
        buckets = []
        for dtype, members in by_dtype.items():
            current, size = [], 0
            for i in members:
                nbytes = int(np.prod(grads[i].shape, dtype=np.int64)) * dtype.itemsize
                if current and self.bucket_bytes is not None and \
                        size + nbytes > self.bucket_bytes:
                    buckets.append(current)
                    current, size = [], 0
                current.append(i)
                size += nbytes
            buckets.append(current)
        return buckets
