"""Small layers without weights: Activation, Flatten, Dropout, Masking, Lambda, TFOpLambda
(an op on symbolic tensors), and the input placeholder."""

import inspect
import math

import numpy as np

from ... import dtypes, ops
from .. import activations
from ...tensor import Tensor
from .keras_tensor import KerasTensor, add_node
from .layer import Layer, unique_name

__all__ = ["Activation", "Flatten", "Dropout", "Masking", "Lambda", "TFOpLambda", "InputLayer", "Input",
           "KerasInput", "Identity"]

KerasInput = KerasTensor  # the name this module used before the functional API


class Activation(Layer):
    """Applies an activation function: ``Activation("softmax")``."""

    supports_masking = True  # the input's mask passes through

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Flatten(Layer):
    """Reshapes ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs during training and scales the rest by
    ``1 / (1 - rate)``; outside training it is the identity."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1); received rate={rate}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = None if self.noise_shape is None else tuple(
            d if d is not None else s for d, s in zip(self.noise_shape, inputs.shape))
        return ops.dropout(inputs, self.rate, shape, self.seed)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class Masking(Layer):
    """Masks the steps of ``(batch, steps, features)`` whose features all equal
    ``mask_value``: their outputs are 0 and the output's mask is False there, so the
    layers after it that consume masks skip them.

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]], np.float32)
    >>> layers.Masking(mask_value=0.0)(x)._keras_mask.numpy().tolist()
    [[True, False, True]]
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ValueError(f"Masking: mask_value must be a number; received "
                             f"mask_value={mask_value!r}")
        self.mask_value = float(mask_value)
        self._min_ndim = 1

    def _kept(self, inputs, keepdims):
        return ops.reduce_any(ops.not_equal(inputs, ops.cast(self.mask_value, inputs.dtype)),
                              axis=-1, keepdims=keepdims)

    def compute_mask(self, inputs, mask=None):
        return self._kept(inputs, keepdims=False)

    def call(self, inputs):
        kept = self._kept(inputs, keepdims=True)
        out = ops.where(kept, inputs, ops.zeros((), inputs.dtype))
        out._keras_mask = ops.squeeze(kept, -1)  # computed with the output, once
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``Lambda(lambda x: x[:, None])``;
    ``arguments`` (a dict) are passed to it as keywords, and ``mask``/``training`` too when
    it takes them.

    Its configuration names the function but cannot hold it: a Lambda does not come back
    from a saved file (chainrule runs no code from files); write a Layer subclass to save
    one, as Keras recommends.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable; received {function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._given_output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._passes = [k for k in ("mask", "training") if k in params]

    def call(self, inputs, mask=None, training=None):
        extra = {"mask": mask, "training": training}
        return self.function(inputs, **self.arguments, **{k: extra[k] for k in self._passes})

    def compute_output_shape(self, input_shape):
        if self._given_output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._given_output_shape):
            return tuple(self._given_output_shape(input_shape))
        return (input_shape[0],) + tuple(self._given_output_shape)

    def get_config(self):
        name = getattr(self.function, "__qualname__", type(self.function).__name__)
        return {**super().get_config(), "function": {"python_function": name},
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config):
        function = config.get("function", {})
        raise ValueError(f"a Lambda layer ('{config.get('name')}', function "
                         f"{function.get('python_function', '?')}) holds Python code, which "
                         f"chainrule does not load from a file. Build the model in code and "
                         f"load only its weights, or write a Layer subclass and pass "
                         f"custom_objects={{'Name': Name}}")


class TFOpLambda(Layer):
    """One chainrule op applied to symbolic tensors: ``tf.reduce_mean(z, axis=1)``,
    ``tf.nn.relu(x)`` or ``x * 2.0`` on KerasTensors records a node of this layer, as
    TF-Keras's layer of the same name and Keras 3's wrapping of ops do.

    ``function`` is the op's name in :data:`chainrule.ops.SYMBOLIC_OPS` (a fixed table: a
    saved model naming any other op is refused); ``arguments`` holds the call's other
    arguments, ``{"args": [...], "kwargs": {...}}``, with ``{"__input__": i}`` where the
    i-th symbolic input goes. The layer is called on the list of those inputs. Like an
    op, it leaves masks behind without a warning.
    """

    _warns_on_dropped_mask = False

    def __init__(self, function, arguments=None, **kwargs):
        kwargs.setdefault("name", unique_name(f"tf.{function}"))
        super().__init__(**kwargs)
        if function not in ops.SYMBOLIC_OPS:
            raise ValueError(f"TFOpLambda: {function!r} is not an op chainrule can record or "
                             f"load (one of chainrule.ops.SYMBOLIC_OPS, such as "
                             f"'reduce_mean' or 'relu')")
        self.function = function
        self.arguments = _decode_arguments(arguments or {"args": [], "kwargs": {}})

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]

        def fill(item):
            if isinstance(item, _Slot):
                return inputs[item.index]
            if isinstance(item, list):
                return [fill(v) for v in item]
            if isinstance(item, tuple):
                return tuple(fill(v) for v in item)
            if isinstance(item, dict):
                return {k: fill(v) for k, v in item.items()}
            return item

        return ops.SYMBOLIC_OPS[self.function](*fill(self.arguments["args"]),
                                               **fill(self.arguments["kwargs"]))

    def get_config(self):
        return {**super().get_config(), "function": self.function,
                "arguments": _encode_arguments(self.arguments, self)}


class _Slot:
    """Where a symbolic input goes in a :class:`TFOpLambda`'s arguments."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __eq__(self, other):
        return isinstance(other, _Slot) and other.index == self.index

    def __repr__(self):
        return f"<input {self.index}>"


def _encode_arguments(item, layer):
    """Arguments as JSON: slots, slices, tuples and Ellipsis tagged, NumPy values as lists."""
    if isinstance(item, _Slot):
        return {"__input__": item.index}
    if isinstance(item, slice):
        return {"__slice__": [_encode_arguments(v, layer)
                              for v in (item.start, item.stop, item.step)]}
    if item is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(item, tuple):
        return {"__tuple__": [_encode_arguments(v, layer) for v in item]}
    if isinstance(item, list):
        return [_encode_arguments(v, layer) for v in item]
    if isinstance(item, dict):
        return {k: _encode_arguments(v, layer) for k, v in item.items()}
    if isinstance(item, (np.ndarray, np.generic)):
        return item.tolist()
    if isinstance(item, Tensor):  # a constant, saved by its values
        return {"__constant__": item.numpy().tolist(), "dtype": item.dtype.name}
    if isinstance(item, np.dtype) or (isinstance(item, type) and issubclass(item, np.generic)):
        return {"__dtype__": np.dtype(item).name}
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    raise TypeError(f"layer '{layer.name}' (TFOpLambda of {layer.function}) cannot be saved: "
                    f"its argument {item!r} of type {type(item).__name__} has no JSON form; "
                    f"pass plain numbers, lists or NumPy arrays")


def _decode_arguments(item):
    if isinstance(item, _Slot):
        return item
    if isinstance(item, dict):
        if set(item) == {"__input__"}:
            return _Slot(item["__input__"])
        if set(item) == {"__slice__"}:
            return slice(*(_decode_arguments(v) for v in item["__slice__"]))
        if set(item) == {"__ellipsis__"}:
            return Ellipsis
        if set(item) == {"__tuple__"}:
            return tuple(_decode_arguments(v) for v in item["__tuple__"])
        if set(item) == {"__constant__", "dtype"}:
            return ops.constant(np.asarray(item["__constant__"], dtype=item["dtype"]))
        if set(item) == {"__dtype__"}:
            return dtypes.as_dtype(item["__dtype__"])
        return {k: _decode_arguments(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return type(item)(_decode_arguments(v) for v in item)
    return item


def op_on_symbolic(name, op, args, kwargs):
    """An op called on KerasTensors (the hook :mod:`.keras_tensor` registers): a
    :class:`TFOpLambda` node with the symbolic arguments as its inputs."""
    inputs = []

    def slot(item):
        if isinstance(item, KerasTensor):
            inputs.append(item)
            return _Slot(len(inputs) - 1)
        if isinstance(item, list):
            return [slot(v) for v in item]
        if isinstance(item, tuple):
            return tuple(slot(v) for v in item)
        if isinstance(item, dict):
            return {k: slot(v) for k, v in item.items()}
        return item

    arguments = {"args": slot(list(args)), "kwargs": slot(dict(kwargs))}
    return TFOpLambda(name, arguments)(inputs)


class InputLayer(Layer):
    """Declares the input shape of a model (without the batch axis): ``InputLayer(shape=(784,))``.

    In a Sequential it makes the model build at once, so ``summary()`` works before any data.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer: give shape (without the batch axis) or batch_shape")
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(batch_shape)
        self._build_for(self.batch_shape)
        self._output_shape = (None,) + self.batch_shape[1:]
        # Its one node has no inputs and gives the model input, named like the layer.
        add_node(self, [], {}, KerasTensor(self.batch_shape, self.dtype, name=self.name))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "batch_shape": self.batch_shape}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):  # noqa: N802
    """A symbolic model input, a :class:`~chainrule.keras.layers.keras_tensor.KerasTensor`
    of shape ``(batch_size, *shape)`` (``None`` batch axis by default), made by an
    :class:`InputLayer` named ``name``.

    Start a functional model with it (``inputs = keras.Input(shape=(784,))``, call layers
    on it, then ``keras.Model(inputs, outputs)``), or put it first in a Sequential.

    >>> from chainrule import keras
    >>> keras.Input(shape=(784,), name="pixels")
    <KerasTensor shape=(None, 784), dtype=float32, sparse=False, name=pixels>
    """
    layer = InputLayer(shape=shape, batch_size=batch_size,
                       dtype=dtypes.as_dtype(dtype or "float32"), batch_shape=batch_shape,
                       name=name)
    return layer.output


class Identity(Layer):
    """Returns its inputs unchanged (a placeholder, as Keras's)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
