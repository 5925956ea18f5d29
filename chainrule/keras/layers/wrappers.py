"""TimeDistributed: one layer applied to every time step of a sequence."""

from ... import ops
from .._registry import serialize
from .layer import Layer

__all__ = ["TimeDistributed"]

# How a wrapped layer's configuration becomes a layer: the package's ``deserialize``, which
# ``layers/__init__.py`` puts here once its registry holds every layer (this module is
# imported before it).
deserialize_layer = None


class TimeDistributed(Layer):
    """Applies ``layer`` to each step of ``(batch, steps, ...)`` on its own, as Keras does
    (one call per step, so a BatchNormalization inside keeps statistics per step and a
    Dropout draws per step), and stacks the results: ``TimeDistributed(Dense(8))`` maps
    ``(batch, 10, 16)`` to ``(batch, 10, 8)``. The weights are ``layer``'s, shared by the
    steps; a ``.keras`` file keeps them under ``layer``, as Keras's."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a keras.layers.Layer instance; "
                             f"received {layer!r}")
        self.layer = layer
        self.supports_masking = True

    def _step_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': inputs need at least 3 axes "
                             f"(batch, steps, ...); received shape {tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        step = self._step_shape(input_shape)
        if not self.layer.built:
            self.layer._build_for(step)
        self._min_ndim = 3
        self.built = True

    def call(self, inputs, training=None, mask=None):
        self._step_shape(inputs.shape)
        kwargs = {"training": training} if self.layer._call_takes_training() else {}
        takes_mask = "mask" in self.layer._call_params()
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            if mask.ndim < 2 or tuple(mask.shape[:2]) != tuple(inputs.shape[:2]):
                raise ValueError(f"TimeDistributed '{self.name}': the mask must begin with "
                                 f"the inputs' (batch, steps) {tuple(inputs.shape[:2])}; "
                                 f"received mask of shape {tuple(mask.shape)}")
        outputs = []
        for i in range(inputs.shape[1]):
            step = dict(kwargs)
            if takes_mask and mask is not None:  # each step's mask, as Keras passes it
                step["mask"] = mask[:, i]
            outputs.append(self.layer(inputs[:, i], **step))
        return ops.stack(outputs, axis=1)

    def compute_output_shape(self, input_shape):
        step = self.layer.compute_output_shape(self._step_shape(input_shape))
        return (step[0], input_shape[1]) + tuple(step[1:])

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = config.pop("layer")
        return cls(deserialize_layer(layer) if isinstance(layer, dict) else layer, **config)
