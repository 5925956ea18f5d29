"""Symbolic tensors and the graph of layer calls they record (the functional API).

``keras.Input(shape=(784,))`` returns a :class:`KerasTensor`: a shape with ``None`` for
the batch axis, a dtype and a name, but no values. Calling a layer on KerasTensors does
not compute anything: it builds the layer (its weights are made here, from the shapes),
finds the output shapes, and records a :class:`Node` (this layer, called on these
tensors, gave those tensors). Every KerasTensor remembers the node that made it
(``_keras_history``), so the outputs lead back to the inputs: that chain of nodes is what
``keras.Model(inputs, outputs)`` runs (see :mod:`chainrule.keras.models.functional`).

Output shapes are found by running the layer once on zeros with a batch of one (outside
any tape or trace, with ``training=False``), so any layer, including a user's own and a
whole model, works on symbolic tensors without a shape rule of its own.
"""

import contextlib
import inspect
import itertools

import numpy as np

from ... import dtypes
from ... import ops as _ops
from ...recording import paused_recorders
from ...tensor import Tensor
from ... import nest

__all__ = ["KerasTensor", "KerasHistory", "Node", "is_symbolic", "symbolic_call"]

_tensor_ids = itertools.count()


class KerasHistory(tuple):
    """``(layer, node_index, tensor_index)``: where a KerasTensor comes from."""

    __slots__ = ()

    def __new__(cls, layer, node_index, tensor_index):
        return super().__new__(cls, (layer, node_index, tensor_index))

    layer = property(lambda self: self[0])
    operation = layer  # Keras 3's name for it
    node_index = property(lambda self: self[1])
    tensor_index = property(lambda self: self[2])


class KerasTensor:
    """A symbolic tensor: ``shape`` (batch axis ``None``), ``dtype``, ``name`` and the
    layer call that made it (``_keras_history``). It has no values; use it to call layers
    and to define a ``keras.Model(inputs, outputs)``."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name or f"keras_tensor_{next(_tensor_ids)}"
        self._keras_history = history
        # The spec (a KerasTensor of bools, no history) of the mask that the layer calls
        # attach to this tensor's values, or None: found by the shape probe.
        self._keras_mask = None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def node(self):
        """The :class:`Node` that made this tensor."""
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, sparse=False, "
                f"name={self.name}>")

    def _refuse(self, *args):
        raise TypeError(
            f"KerasTensor '{self.name}' is symbolic (it has a shape, {self.shape}, but no "
            f"values): it cannot become a NumPy array, a Python number or bool. Apply layers "
            f"or chainrule ops to it (each op records a TFOpLambda node of the model), or "
            f"write a Layer subclass whose call() does the computation")

    __array__ = __float__ = __bool__ = numpy = _refuse

    # Arithmetic and indexing are chainrule ops, which record a TFOpLambda node.
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __neg__(self):
        return _ops.negative(self)

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


class Node:
    """One call of a layer on symbolic tensors: ``outputs = layer(args, **kwargs)``.

    ``args`` (the inputs) and ``outputs`` keep the structure of the call (a tensor, a list
    of tensors for a merge layer, ...); ``kwargs`` holds the other arguments by name
    (``training`` when it was given, and tensors such as ``logits`` of
    ``layer(targets, logits)``)."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in nest.flatten([args, list(kwargs.values())])
                              if isinstance(t, KerasTensor)]
        self.output_tensors = nest.flatten(outputs)

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors]

    def __repr__(self):
        return (f"<Node {self.layer.name}: {len(self.input_tensors)} in, "
                f"{len(self.output_tensors)} out>")


def is_symbolic(inputs):
    """True when ``inputs`` (a tensor or a structure of them) holds a KerasTensor."""
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple, dict)):
        return any(isinstance(t, KerasTensor) for t in nest.flatten(inputs))
    return False


def add_node(layer, args, kwargs, outputs):
    """Records ``outputs = layer(args, **kwargs)`` and stamps each output with its history."""
    node_index = len(layer._inbound_nodes)
    for tensor_index, t in enumerate(nest.flatten(outputs)):
        t._keras_history = KerasHistory(layer, node_index, tensor_index)
    node = Node(layer, args, kwargs, outputs)
    layer._inbound_nodes.append(node)
    return node


def symbolic_call(layer, inputs, training=None, kwargs=None, rest=()):
    """``layer(inputs, *rest, **kwargs)`` on KerasTensors: builds the layer, records a Node
    and returns KerasTensors shaped like the layer's outputs. ``rest`` is recorded by
    ``call``'s parameter names, so the node's call is ``layer(inputs, **kwargs)``."""
    kwargs = {**_by_name(layer, rest), **(kwargs or {})}
    for t in nest.flatten(inputs):
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"layer '{layer.name}' ({type(layer).__name__}) was called on a mix of "
                f"symbolic tensors (keras.Input and what layers made of it) and a value of "
                f"type {type(t).__name__}; in a functional model every input of a layer call "
                f"must come from keras.Input")
    # Sizes left open beyond the batch axis (a sequence's length) are probed twice, at two
    # sizes: an output size that follows them is left open too.
    open_sizes = any(d is None for t in nest.flatten([inputs, list(kwargs.values())])
                     if isinstance(t, KerasTensor) for d in t.shape[1:])
    outs = [_probe(layer, inputs, kwargs, size)
            for size in ((_OPEN_SIZES[0], _OPEN_SIZES[1]) if open_sizes else (1,))]
    outputs = nest.map_structure(_spec_of, *outs)
    for spec, *values in zip(nest.flatten(outputs), *map(nest.flatten, outs)):
        masks = [getattr(v, "_keras_mask", None) for v in values]
        if all(m is not None for m in masks):
            spec._keras_mask = _spec_of(*masks)
    if training is not None:
        kwargs["training"] = training
    add_node(layer, inputs, kwargs, outputs)
    return outputs


# The sizes an open (None) axis other than the batch axis is probed at.
_OPEN_SIZES = (32, 40)


def _probe(layer, inputs, kwargs, open_size):
    """The layer's output on zeros shaped like the symbolic inputs (batch 1, other open
    axes ``open_size``), outside any recorder, its metrics left as they were."""
    def zeros(t):
        if not isinstance(t, KerasTensor):
            return t
        value = _zeros_like_spec(t, open_size)
        if t._keras_mask is not None:  # a mask of the probe's shape: every step counts
            value._keras_mask = Tensor._wrap(np.ones(
                _zeros_like_spec(t._keras_mask, open_size).shape, bool))
        return value

    probe = nest.map_structure(zeros, inputs)
    probe_kwargs = nest.map_structure(zeros, kwargs)
    if layer._call_takes_training():
        probe_kwargs["training"] = False  # a shape probe: no dropout draws
    try:
        # (zeros are no data: 0/0 in a probe of `a / b` is no reason to warn)
        with paused_recorders(), _metrics_kept(layer), np.errstate(all="ignore"):
            return layer(probe, **probe_kwargs)
    except (ValueError, TypeError) as e:
        shapes = nest.map_structure(lambda t: t.shape, inputs)
        raise type(e)(f"calling layer '{layer.name}' ({type(layer).__name__}) on symbolic "
                      f"inputs of shape {shapes} failed: {e}") from e


def _by_name(layer, rest):
    """The extra positional arguments of a call, keyed by ``call``'s parameter names."""
    if not rest:
        return {}
    params = list(inspect.signature(type(layer).call).parameters.values())[2:]
    if len(params) < len(rest) or any(
            p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY, p.VAR_KEYWORD)
            for p in params[:len(rest)]):
        raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}) was called on symbolic "
                        f"tensors with {len(rest) + 1} positional arguments, more than its "
                        f"call() names; pass the extra ones by keyword")
    return {p.name: value for p, value in zip(params, rest)}


@contextlib.contextmanager
def _metrics_kept(layer):
    """Undoes what a shape probe's zeros did to the layer's metrics (``add_metric`` and
    metric objects called in ``call``), so that they count only real data."""
    saved = [(v, v.numpy()) for m in layer.metrics for v in m.variables]
    try:
        yield
    finally:
        for v, value in saved:
            v.assign(value)


def _zeros_like_spec(t, open_size=1):
    shape = tuple((1 if i == 0 else open_size) if d is None else d
                  for i, d in enumerate(t.shape))
    return Tensor._wrap(np.zeros(shape, dtype=t.dtype))


def _spec_of(value, *others):
    """The KerasTensor of a probe's output; with a second probe's (other open sizes), the
    sizes that differ between them are left open."""
    for v in (value, *others):
        if not isinstance(v, Tensor):
            raise TypeError(f"a layer called on symbolic tensors must return tensors; it "
                            f"returned {type(v).__name__}")
    if not value.ndim:
        return KerasTensor((), value.dtype)
    shape = [None] + list(value.shape[1:])
    for other in others:
        shape[1:] = [d if len(other.shape) == len(value.shape) and d == o else None
                     for d, o in zip(shape[1:], other.shape[1:])]
    return KerasTensor(shape, value.dtype)
