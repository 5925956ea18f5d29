"""The small interface through which the primitive table's lowerings write ONNX.

A lowering (a primitive's ``onnx=`` field) receives an :class:`Emitter` and one
:class:`Symbol` per input. ``emit(op_type, *inputs, **attributes)`` appends a node and
returns its output; ``emit.constant(value, dtype)`` makes a constant. Nodes are kept as
plain tuples, so this module needs no ``onnx`` (only :mod:`.export`, which turns them into
protobuf messages, does).
"""

import numpy as np

__all__ = ["Emitter", "Symbol"]


class Symbol:
    """One tensor of the ONNX graph being written: its ``name``, and where known its
    ``shape`` (``None`` for a dynamic dimension) and ``dtype`` (a NumPy dtype). The
    outputs of nodes a lowering emits along the way have neither."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name, shape=None, dtype=None):
        self.name, self.shape = name, None if shape is None else tuple(shape)
        self.dtype = None if dtype is None else np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<Symbol {self.name} {self.shape} {self.dtype}>"


class Emitter:
    """Collects ONNX nodes (``op_type, input names, output names, attributes``) and
    constants (``name -> ndarray``); each name is made once."""

    def __init__(self):
        self.nodes = []
        self.constants = {}
        self._taken = set()

    def __call__(self, op_type, *inputs, outputs=1, **attributes):
        """Appends an ``op_type`` node on ``inputs`` (Symbols; None for an optional input
        left out) and returns its output Symbol (a tuple of ``outputs`` of them if more)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append((op_type, [("" if x is None else x.name) for x in inputs], names,
                           attributes))
        results = tuple(Symbol(name) for name in names)
        return results[0] if outputs == 1 else results

    def constant(self, value, dtype):
        """A constant tensor of ``value`` (a number, list or array) in ``dtype``."""
        array = np.asarray(value, dtype=dtype)
        name = self.fresh("const")
        self.constants[name] = array
        return Symbol(name, array.shape, array.dtype)

    def fresh(self, stem):
        """A name not used before in this graph, made from ``stem``."""
        name, n = stem, 0
        while name in self._taken:
            n += 1
            name = f"{stem}_{n}"
        self._taken.add(name)
        return name

    def rename(self, old, new):
        """Gives the tensor called ``old`` the name ``new`` everywhere (``new`` must be free)."""
        self._taken.add(new)
        self.nodes = [(op, [new if n == old else n for n in ins],
                       [new if n == old else n for n in outs], attrs)
                      for op, ins, outs, attrs in self.nodes]
