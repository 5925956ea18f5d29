"""Functional models: ``keras.Model(inputs, outputs)`` over a graph of layer calls.

``keras.Input`` and the layers called on it record :class:`~chainrule.keras.layers.
keras_tensor.Node` objects (see that module). A functional model walks from its outputs
back to its inputs once, at construction, and keeps the nodes in topological order.
``call`` then runs those layer calls on real tensors, in that order: the tape, a trace and
``jit_compile`` see the same ops a hand-written ``call`` would make, so nothing else in
chainrule needs to know a model is functional.

Inputs and outputs may be one tensor, a list or a dict; data for a model with several
inputs may be given the same way, or as a dict keyed by input name. A model built on
tensors in the middle of another model's graph shares that model's layers and weights
(feature reuse).
"""

from ... import ops
from ...tensor import Tensor
from ... import nest
from ..layers import deserialize, serialize
from ..layers.core import InputLayer
from ..layers.keras_tensor import KerasTensor
from ..layers.layer import with_keras_mask
from .model import Model

__all__ = ["Functional"]


class Functional(Model, functional=True):
    """A model defined by its input and output KerasTensors.

    >>> from chainrule import keras
    >>> from chainrule.keras import layers
    >>> inputs = keras.Input(shape=(4,), name="features")
    >>> hidden = layers.Dense(8, activation="relu")(inputs)
    >>> model = keras.Model(inputs=inputs, outputs=layers.Dense(1)(hidden))
    >>> type(model).__name__, [layer.name for layer in model.layers][0]
    ('Functional', 'features')
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        for what, struct in (("inputs", inputs), ("outputs", outputs)):
            for t in nest.flatten(struct):
                if not isinstance(t, KerasTensor):
                    raise TypeError(
                        f"Model({what}=...): every entry must be a symbolic tensor (from "
                        f"keras.Input or a layer called on one); received {t!r} of type "
                        f"{type(t).__name__}")
        self._inputs_struct = _as_struct(inputs)
        self._outputs_struct = _as_struct(outputs)
        self._inputs = nest.flatten(self._inputs_struct)
        self._outputs = nest.flatten(self._outputs_struct)
        if not self._inputs or not self._outputs:
            raise ValueError("Model(inputs, outputs): needs at least one input and one output")
        self._nodes = _nodes_between(self._inputs, self._outputs)
        self._layers = _unique_layers(self._nodes)
        names = [layer.name for layer in self._layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f'Model: the name "{name}" is used {names.count(name)} times '
                                 f"in the model; every layer (and Input) needs its own name")
        if isinstance(self._inputs_struct, dict):
            self.input_names = list(self._inputs_struct)
        else:
            self.input_names = [t.name for t in self._inputs]
        if isinstance(self._outputs_struct, dict):
            self.output_names = list(self._outputs_struct)
        else:
            self.output_names = [t._keras_history.layer.name for t in self._outputs]
        self.built = True

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    @property
    def inputs(self):
        """The input KerasTensors, as a flat list."""
        return list(self._inputs)

    @property
    def outputs(self):
        """The output KerasTensors, as a flat list."""
        return list(self._outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        return nest.map_structure(lambda t: t.shape, self._inputs_struct)

    @property
    def output_shape(self):
        return nest.map_structure(lambda t: t.shape, self._outputs_struct)

    def build(self, input_shape=None):
        self.built = True  # the layers were built when the graph was made

    # -- losses and metrics of symbolic values -------------------------------------------------
    def add_loss(self, loss):
        """A loss term; a symbolic one (``model.add_loss(tf.reduce_mean(hidden))``) is a
        value of the graph, computed and added on every call of the model."""
        if isinstance(loss, KerasTensor):
            self._add_symbolic(("loss", loss, None))
        else:
            Model.add_loss(self, loss)

    def add_metric(self, value, name=None, aggregation=None):
        """A value logged by ``fit``; a symbolic one is computed on every call of the model."""
        if isinstance(value, KerasTensor):
            if not name:
                raise ValueError(f"model '{self.name}': add_metric of a symbolic value needs "
                                 f"a name, as in model.add_metric(value, name='std')")
            self._add_symbolic(("metric", value, (name, aggregation)))
        else:
            Model.add_metric(self, value, name=name, aggregation=aggregation)

    def _add_symbolic(self, entry):
        extras = self.__dict__.setdefault("_symbolic_extras", [])
        nodes = _nodes_between(self._inputs, self._outputs + [e[1] for e in extras] +
                               [entry[1]])  # raises when the value is not of this graph
        extras.append(entry)
        self._nodes = nodes
        self._layers = _unique_layers(nodes)

    def compute_output_shape(self, input_shape):
        return self.output_shape

    # -- running the graph ---------------------------------------------------------------------
    def call(self, inputs, training=None, mask=None):
        values = {}
        flat = self._flat_inputs(inputs)
        masks = [None] * len(flat) if mask is None else self._flat_inputs(mask)
        for kt, x, m in zip(self._inputs, flat, masks):
            x = _conform(self, kt, x)
            if m is not None:
                x = with_keras_mask(x, m)
            values[id(kt)] = x
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue  # its output is a model input, set above
            args = nest.map_structure(
                lambda t: values[id(t)] if isinstance(t, KerasTensor) else t, node.args)
            kwargs = nest.map_structure(
                lambda t: values[id(t)] if isinstance(t, KerasTensor) else t, node.kwargs)
            if training is not None or "training" not in kwargs:
                # As Keras 3: the model's own training, when given, overrides one recorded
                # in the node (Keras records an augmentation layer's default, True).
                kwargs["training"] = training
            out = node.layer(args, **kwargs)
            for kt, value in zip(node.output_tensors, nest.flatten(out)):
                values[id(kt)] = value
        for kind, kt, extra in self.__dict__.get("_symbolic_extras", ()):
            if kind == "loss":
                Model.add_loss(self, values[id(kt)])
            else:
                Model.add_metric(self, values[id(kt)], name=extra[0], aggregation=extra[1])
        return nest.map_structure(lambda t: values[id(t)], self._outputs_struct)

    def _flat_inputs(self, inputs):
        """The data for each input, in ``self._inputs`` order."""
        n = len(self._inputs)
        if isinstance(inputs, dict):
            missing = [k for k in self.input_names if k not in inputs]
            if missing:
                raise ValueError(f"model '{self.name}': the input dict has keys "
                                 f"{sorted(inputs)}, but the model's inputs are named "
                                 f"{self.input_names} (missing {missing})")
            return [inputs[k] for k in self.input_names]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != n:
                raise ValueError(f"model '{self.name}' expects {n} input(s) "
                                 f"{self.input_names}; received {len(inputs)}")
            return list(inputs)
        if n != 1:
            raise ValueError(f"model '{self.name}' expects {n} inputs {self.input_names} (a "
                             f"list, or a dict keyed by those names); received one tensor")
        return [inputs]

    # -- configuration -------------------------------------------------------------------------
    def get_config(self):
        """The layers, each with its calls (``inbound_nodes``) as references
        ``[layer_name, node_index, tensor_index]`` to the tensors it was called on."""
        local = {}  # id(node) -> (layer name, the node's index among that layer's nodes here)
        counts = {}
        for node in self._nodes:
            k = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = k + 1
            local[id(node)] = (node.layer.name, k)

        def ref(t):
            name, k = local[id(t.node)]
            return {"__tensor__": [name, k, t._keras_history.tensor_index]}

        layers = []
        for layer in self._layers:
            entry = serialize(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": nest.map_structure(
                    lambda t: ref(t) if isinstance(t, KerasTensor) else t, node.args),
                 "kwargs": nest.map_structure(
                     lambda t: ref(t) if isinstance(t, KerasTensor) else t, node.kwargs)}
                for node in self._nodes
                if node.layer is layer and not isinstance(layer, InputLayer)]
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": nest.map_structure(ref, self._inputs_struct),
                "output_layers": nest.map_structure(ref, self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        created, outputs_of, pending = {}, {}, []
        for entry in config["layers"]:
            layer = deserialize(entry, custom_objects)  # (models are registered as layers)
            # Calls refer to the saved name: a layer whose get_config leaves out `name`
            # comes back under a new one.
            created[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                outputs_of[(entry["name"], 0)] = layer.output
            for node in entry.get("inbound_nodes", []):
                pending.append((entry["name"], layer, node))
        done = {name: (1 if isinstance(layer, InputLayer) else 0)
                for name, layer in created.items()}

        def resolve(item):
            if isinstance(item, dict) and set(item) == {"__tensor__"}:
                name, k, i = item["__tensor__"]
                return nest.flatten(outputs_of[(name, k)])[i]
            if isinstance(item, dict):
                return {key: resolve(v) for key, v in item.items()}
            if isinstance(item, list):
                return [resolve(v) for v in item]
            return item

        def ready(item):
            if isinstance(item, dict) and set(item) == {"__tensor__"}:
                return tuple(item["__tensor__"][:2]) in outputs_of
            if isinstance(item, dict):
                return all(ready(v) for v in item.values())
            if isinstance(item, list):
                return all(ready(v) for v in item)
            return True

        while pending:  # call each layer once all the tensors of its call exist
            progressed = False
            for entry in list(pending):
                name, layer, node = entry
                if ready(node["args"]) and ready(node.get("kwargs", {})):
                    out = layer(resolve(node["args"]), **resolve(node.get("kwargs", {})))
                    outputs_of[(name, done[name])] = out
                    done[name] += 1
                    pending.remove(entry)
                    progressed = True
                    break
            if not progressed:
                raise ValueError("the saved functional graph refers to layer calls that "
                                 "cannot be made (a missing or circular reference)")
        return cls(resolve(config["input_layers"]), resolve(config["output_layers"]),
                   name=config.get("name"), trainable=config.get("trainable", True))

    # -- Model(inputs, outputs) -----------------------------------------------------------------
    @classmethod
    def adopt(cls, model, *args, **kwargs):
        """``keras.Model(inputs, outputs)`` and subclasses constructed the same way: the
        instance becomes (a subclass of) Functional, keeping its own methods (a
        ``train_step`` override, say) ahead of Functional's."""
        model.__class__ = cls.subclass_for(type(model))
        Functional.__init__(model, *args, **kwargs)

    @staticmethod
    def subclass_for(model_class):
        """``model_class`` made functional: Functional for Model itself, else a subclass of
        both (made once per class)."""
        if issubclass(model_class, Functional):
            return model_class
        if model_class is Model:
            return Functional
        if model_class not in _SUBCLASSES:
            _SUBCLASSES[model_class] = type(
                model_class.__name__, (model_class, Functional),
                {"__module__": model_class.__module__, "__qualname__": model_class.__qualname__})
        return _SUBCLASSES[model_class]


_SUBCLASSES = {}  # Model subclass -> its functional subclass


def _as_struct(x):
    """One tensor stays one tensor; a tuple becomes a list (as in Keras)."""
    if isinstance(x, tuple):
        return list(x)
    return x


def _nodes_between(inputs, outputs):
    """The nodes that lead from ``inputs`` to ``outputs``, each after the nodes it reads
    (depth-first from the outputs, without recursion)."""
    input_ids = {id(t) for t in inputs}
    order, done, seen = [], set(), set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            if id(item) not in done:
                done.add(id(item))
                order.append(item)
            continue
        tensor = item
        if tensor._keras_history is None:
            raise ValueError(f"Model: tensor '{tensor.name}' was not made by keras.Input or a "
                             f"layer call")
        node = tensor.node
        if id(tensor) in input_ids and not isinstance(node.layer, InputLayer):
            continue  # an intermediate tensor used as a model input: the graph starts here
        if id(node) in seen:
            continue
        seen.add(id(node))
        if not node.input_tensors and id(tensor) not in input_ids:
            raise ValueError(
                f"Graph disconnected: the outputs depend on input '{tensor.name}' (layer "
                f"'{node.layer.name}'), which is not among the model's inputs "
                f"{[t.name for t in inputs]}. Pass it in Model(inputs=[...]).")
        stack.append((node, True))
        for t in reversed(node.input_tensors):
            stack.append((t, False))
    return order


def _unique_layers(nodes):
    seen, out = set(), []
    for node in nodes:
        if id(node.layer) not in seen:
            seen.add(id(node.layer))
            out.append(node.layer)
    return out


def _conform(model, kt, x):
    """``x`` as a tensor of the input's dtype and rank, or a clear error."""
    if not isinstance(x, Tensor):
        x = ops.convert_to_tensor(x)
    if x.dtype != kt.dtype:
        x = ops.cast(x, kt.dtype)
    expected = kt.shape
    if len(x.shape) != len(expected) or any(
            e is not None and e != d for e, d in zip(expected[1:], x.shape[1:])):
        raise ValueError(f"Input '{kt.name}' of model '{model.name}' expects shape "
                         f"{expected}; received data of shape {tuple(x.shape)}")
    return x
