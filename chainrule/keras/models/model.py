"""Model: a Layer that trains (its :class:`~chainrule.keras.trainers.trainer.Trainer` half:
``compile``, ``fit``, ``evaluate``, ``predict``), saves and describes itself.

Subclass it the Keras way: create layers in ``__init__``, use them in ``call``; the
weights are found by walking the attributes. ``Model(inputs, outputs)`` makes a functional
model (:mod:`.functional`).
"""

import json
import os

from ... import ops
from ...onnx import TensorSpec, export as export_onnx
from .. import saving, weights_h5
from ..layers import serialize
from ..layers.layer import Layer
from ..trainers.trainer import Trainer
from ..utils.summary import summary_text

__all__ = ["Model"]


class Model(Trainer, Layer):
    """A trainable stack of layers: ``compile`` then ``fit`` / ``evaluate`` / ``predict``.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> from chainrule.keras import layers
    >>> model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> x, y = np.random.rand(64, 5).astype("float32"), np.random.randint(0, 3, 64)
    >>> history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    >>> model.predict(x[:4], verbose=0).shape
    (4, 3)
    """

    # The class that ``Model(inputs, outputs)`` makes (Functional, which names itself here
    # when functional.py defines it; keras.models imports that module).
    _functional = None
    # A model's layers attach (and consume) masks themselves: its outputs carry what its
    # last layers gave them, and the model adds no mask of its own nor warns.
    _warns_on_dropped_mask = False

    def __init_subclass__(cls, functional=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if functional:
            Model._functional = cls

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            Model._functional.adopt(self, *args, **kwargs)  # Model(inputs, outputs)
            return
        Layer.__init__(self, **kwargs)
        Trainer.__init__(self)

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._sublayers())

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of ``layers``)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range; model "
                                 f"'{self.name}' has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}")

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def build(self, input_shape):
        """Builds the weights by running the model once on zeros of ``input_shape`` (a
        shape, or a list/dict of shapes for several inputs)."""
        if type(self).call is not Model.call:
            self.built = True  # so the probe call below does not come back here
            self.call(_zeros_for(input_shape))
        self.built = True

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a table of the layers, their output shapes and parameter counts."""
        (print_fn or print)(summary_text(self, line_length))

    # -- saving (see chainrule.keras.saving for the file format) ----------------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Writes architecture, weights, compile settings and optimizer state to one file,
        atomically: ``.keras`` in Keras 3's format (Keras loads it; a model Keras cannot
        rebuild is refused, naming the other), ``.chainrule`` in chainrule's own, which holds
        any model; ``keras.models.load_model(filepath)`` reads both."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def get_compile_config(self):
        """How the model was compiled, as JSON-able data (optimizer, loss, metrics,
        ``steps_per_execution`` ...), or None when it was not compiled (or was compiled with
        objects that cannot be described by name): what ``save`` writes."""
        return saving._compile_config(self)

    def compile_from_config(self, config):
        """Compiles the model as :meth:`get_compile_config` described it."""
        saving._recompile(self, config, None)

    def save_weights(self, filepath, overwrite=True):
        """Writes the weights alone, atomically: to a ``.weights.h5`` file in Keras 3's
        HDF5 layout (Keras loads it), or to chainrule's own ``.chainrule`` file."""
        if _is_hdf5(filepath):
            weights_h5.save_weights(self, filepath, overwrite=overwrite)
        else:
            saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Sets the weights from a file of ``save`` or ``save_weights``, or from a Keras 3
        ``.weights.h5`` or ``.keras`` file; the shapes must fit."""
        if _is_hdf5(filepath):
            weights_h5.load_weights(self, filepath)
        else:
            saving.load_weights(self, filepath)

    def export(self, filepath, format="", verbose=None, input_signature=None, **kwargs):
        """Writes the model's inference pass (``training=False``) for serving elsewhere, as
        Keras 3's ``export``; chainrule writes ``format="onnx"`` (:func:`chainrule.onnx.
        export`), with the batch dimension dynamic. ``input_signature`` defaults to the
        model's inputs (or the shape it was built for)."""
        if format != "onnx":
            raise ValueError(f"Model.export: chainrule writes format='onnx' only; received "
                             f"format={format!r} (Keras's default, 'tf_saved_model', and "
                             f"'openvino' and 'litert' need TensorFlow)")
        if kwargs:
            raise TypeError(f"Model.export: unexpected keyword argument(s) {sorted(kwargs)}")
        if not self.built:
            raise ValueError(f"Model '{self.name}' must be built before export: call it on "
                             f"data, fit it, or call build(input_shape) first")
        specs = self._input_specs() if input_signature is None else input_signature
        names = getattr(self, "output_names", None)

        def serve(*inputs):
            return self(inputs[0] if len(inputs) == 1 else list(inputs), training=False)

        serve.__name__ = self.name
        export_onnx(serve, filepath, specs, output_names=names)
        if verbose:
            print(f"Saved the model '{self.name}' as ONNX to {filepath}")

    def _input_specs(self):
        """One TensorSpec per input: the symbolic inputs if the model has them, else the
        shape it was built for (batch axis dynamic)."""
        try:
            inputs = self.inputs
        except AttributeError:
            inputs = None
        if inputs:
            names = getattr(self, "input_names", None) or [t.name for t in inputs]
            return [TensorSpec(t.shape, t.dtype, n) for t, n in zip(inputs, names)]
        shape = self._build_shape
        if shape is None:
            raise ValueError(f"Model.export: the input shape of '{self.name}' is unknown; "
                             f"give input_signature")
        shapes = shape if shape and isinstance(shape[0], (list, tuple)) else [shape]
        names = ["inputs"] if len(shapes) == 1 else [f"inputs_{i}" for i in range(len(shapes))]
        return [TensorSpec((None,) + tuple(s[1:]), self.dtype, n) for s, n in zip(shapes, names)]

    # -- configuration -------------------------------------------------------------------------
    def to_json(self, **kwargs):
        """The architecture as a JSON string (``keras.models.model_from_json`` reads it);
        ``kwargs`` go to ``json.dumps``."""
        return json.dumps(serialize(self), **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model a ``get_config`` dict describes; a graph of layers (a config with
        ``input_layers``) is rebuilt as a functional model of this class."""
        if "input_layers" in config:
            return Model._functional.subclass_for(cls).from_config(config, custom_objects)
        return super().from_config(config)


def _is_hdf5(filepath):
    return str(os.fspath(filepath)).endswith(".weights.h5")


def _zeros_for(shape):
    """Zeros with a batch of one for a shape (``None`` axes become 1) or a list/dict of
    shapes."""
    if isinstance(shape, dict):
        return {k: _zeros_for(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_zeros_for(s) for s in shape]
    return ops.zeros(tuple(1 if d is None else d for d in shape))
