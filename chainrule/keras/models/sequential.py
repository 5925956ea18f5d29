"""Sequential: a plain stack of layers, each feeding the next."""

from ..layers import deserialize, serialize
from ..layers.core import InputLayer
from ..layers.keras_tensor import KerasTensor
from ... import ops
from ..layers.layer import Layer, with_keras_mask
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """Layers applied one after the other: ``Sequential([Dense(512, activation="relu"),
    Dense(10, activation="softmax")])``.

    The weights are created on the first batch (or by ``build(input_shape)``, or at once
    when the first entry is ``keras.Input(shape=...)``). ``weights`` lists them layer by
    layer: kernel, bias, kernel, bias.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._build_if_shape_known()

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer, rebuild=True):
        """Appends a layer (or sets the input, for ``keras.Input``/``InputLayer``)."""
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("Sequential: an Input/InputLayer can only come first")
            self._input_layer = layer
        elif isinstance(layer, Layer):
            if any(existing.name == layer.name for existing in self._layers):
                raise ValueError(f"Sequential: all layers need unique names; "
                                 f"'{layer.name}' is already in the model")
            self._layers.append(layer)
        else:
            raise TypeError(f"Sequential.add takes a Layer; received {layer!r} of type "
                            f"{type(layer).__name__}")
        self.built = False
        if rebuild:
            self._build_if_shape_known()

    def pop(self):
        """Removes and returns the last layer."""
        if not self._layers:
            raise IndexError("Sequential.pop: the model has no layers")
        layer = self._layers.pop()
        self.built = False
        self._build_if_shape_known()
        return layer

    def _build_if_shape_known(self):
        shape = None
        if self._input_layer is not None:
            shape = self._input_layer.batch_shape
        elif self._layers and self._layers[0]._declared_input_shape is not None:
            shape = (None,) + self._layers[0]._declared_input_shape
        if shape is not None and self._layers:
            self.build(shape)

    def build(self, input_shape=None):
        """Creates every layer's weights for inputs of ``input_shape`` (batch axis first,
        ``None`` allowed), passing each layer's output shape to the next."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("Sequential.build: give input_shape (e.g. (None, 784))")
            input_shape = self._input_layer.batch_shape
        shape = tuple(input_shape)
        self._symbolic_output = None
        if self._input_layer is not None and self._layers and \
                shape[1:] == self._input_layer.batch_shape[1:]:
            # Call the layers on the Input's symbolic tensor: this builds them and gives
            # each an .input/.output, for feature extraction as in Keras's guide.
            x = self._input_layer.output
            for layer in self._layers:
                x = layer(x)
            self._symbolic_output = x
            shape = x.shape
        for layer in self._layers if self._symbolic_output is None else []:
            if not layer.built:
                layer._build_for(shape)
            else:
                layer._check_input(shape)
            shape = layer.compute_output_shape(shape)
            layer._output_shape = (None,) + tuple(shape[1:])
        self._build_shape = (None,) + tuple(input_shape[1:])
        self.built = True

    @property
    def inputs(self):
        """``[keras.Input tensor]`` when the model starts with one (else an error)."""
        return [self._symbolic_start("inputs").output]

    @property
    def outputs(self):
        self._symbolic_start("outputs")
        return [self._symbolic_output]

    def _symbolic_start(self, what):
        if self._input_layer is None or getattr(self, "_symbolic_output", None) is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has no symbolic {what}: start it with "
                f"keras.Input(shape=...) to use model.{what} and layer.output")
        return self._input_layer

    def call(self, inputs, training=None, mask=None):
        x = inputs
        if mask is not None:
            x = with_keras_mask(ops.convert_to_tensor(x), mask)
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [serialize(layer) for layer in self._layers]}
        if self._input_layer is not None:
            config["layers"].insert(0, serialize(self._input_layer))
        if self._build_shape is not None:
            config["build_input_shape"] = self._build_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            model.add(deserialize(layer_config, custom_objects), rebuild=False)
        shape = config.get("build_input_shape")
        if shape is not None:
            model.build(shape)
        else:
            model._build_if_shape_known()
        return model
