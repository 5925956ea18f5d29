"""Keras 3's ``.keras`` files, read and written: a zip of ``config.json`` (Keras's schema:
``module``, ``class_name``, ``config``, ``registered_name``, ``build_config``,
``compile_config``), ``metadata.json`` and ``model.weights.h5`` (the layout of
:mod:`.weights_h5`, plus the optimizer's variables under ``optimizer/vars``).

Reading, the configuration is translated into chainrule's (the same names, without Keras's
bookkeeping) and every class it names is looked up in a registry (layers, optimizers,
schedules, losses, metrics, initializers, regularizers), never imported. A Keras option
chainrule does not have is refused with its name unless it is off (None, False, or the
inert default of a feature that is off).

Writing is the reverse: chainrule's configuration with Keras's bookkeeping added. A model
Keras cannot rebuild (a subclassed model, a class of your own, a function where Keras
needs a name) is refused with :class:`KerasFormatError`, which says to save it as
``.chainrule`` instead.

The optimizer's state travels both ways where chainrule's optimizer keeps Keras's slots
(:data:`KERAS_SLOTS`): Keras stores its step counter, its learning rate (unless a schedule
computes it) and then its slots, in the order its ``build`` makes them.
"""

import datetime
import inspect
import io
import json
import zipfile

import numpy as np

from . import (activations, constraints, initializers, layers, losses, metrics, optimizers,
               regularizers)
from . import weights_h5
from .. import nest
from ._registry import serialize, unsavable_part
from .layers.keras_tensor import KerasTensor
from .layers.layer import checking_new_weights
from .optimizers import schedules
from .untrusted import MAX_CONFIG_BYTES, SavedModelError, weight_limit

__all__ = ["KERAS_SLOTS", "KerasFormatError", "is_keras_file", "keras_file_entries",
           "load_keras_file", "load_keras_weights"]

# Keras's own keys around an object's configuration, not part of it.
_BOOKKEEPING = {"module", "registered_name", "build_config", "compile_config", "shared_object_id"}
# Keras options that do nothing at these values (the feature they tune is off).
_INERT = {"ema_momentum": 0.99, "ema_overwrite_frequency": None, "sparse": False,
          "ragged": False, "optional": False,
          "data_format": "channels_last"}  # (Keras 3.15's Flatten has one: the default is inert)
_REGISTRIES = [layers.REGISTRY, optimizers.REGISTRY, schedules.REGISTRY, losses.REGISTRY,
               metrics.REGISTRY, initializers.REGISTRY, regularizers.REGISTRY,
               constraints.REGISTRY]
# The Keras module each family's classes are found in, by Keras, when it reads a file.
_MODULES = {id(layers.REGISTRY): "keras.layers", id(optimizers.REGISTRY): "keras.optimizers",
            id(schedules.REGISTRY): "keras.optimizers.schedules",
            id(losses.REGISTRY): "keras.losses", id(metrics.REGISTRY): "keras.metrics",
            id(initializers.REGISTRY): "keras.initializers",
            id(regularizers.REGISTRY): "keras.regularizers",
            id(constraints.REGISTRY): "keras.constraints"}
# The Keras release whose layout the writer follows (and whose loader the tests run).
KERAS_VERSION = "3.15.1"
# Each optimizer's slots in the order Keras 3's build makes them: a group of names is made
# for every variable before the next group starts (Adam interleaves its two, variable by
# variable); a name chainrule's optimizer did not make (momentum 0, not centered) is absent.
KERAS_SLOTS = {
    "SGD": [["momentum"]],
    "RMSprop": [["velocity"], ["momentum"], ["average_gradient"]],
    "Adam": [["momentum", "velocity"], ["velocity_hat"]],
    "Adagrad": [["accumulator"]],
    "AdamW": [["momentum", "velocity"], ["velocity_hat"]],
    "Nadam": [["momentum", "velocity"]],  # then its state after the slots (u_product)
    "Adamax": [["momentum", "norm"]],
    "Adadelta": [["accumulated_grad", "accumulated_delta_var"]],
    "Lion": [["momentum"]],
    "Ftrl": [["accumulator", "linear"]],
}


def is_keras_file(archive):
    """Whether an open zip holds a Keras 3 model (its weights file is ``model.weights.h5``)."""
    return "model.weights.h5" in archive.namelist()


def load_keras_weights(model, archive, filepath):
    """Sets ``model``'s weights from the ``model.weights.h5`` of an open ``.keras`` zip."""
    f, _ = _weights_file(archive, filepath)
    with f:
        weights_h5.load_from(model, f, filepath, skip=("optimizer/",))


def _weights_file(archive, filepath):
    """The open HDF5 file of the zip's ``model.weights.h5``, once its size is allowed, and
    that size."""
    info = archive.getinfo("model.weights.h5")
    limit = weight_limit()
    if info.file_size > limit:
        raise SavedModelError(f"{filepath}: its weights unpack to {info.file_size:,} bytes, "
                              f"more than this loader allows ({limit:,})")
    h5py = weights_h5._h5py()
    try:
        return h5py.File(io.BytesIO(archive.read(info)), "r"), info.file_size
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise SavedModelError(f"{filepath}: its model.weights.h5 is damaged ({e})") from None


def load_keras_file(archive, filepath, custom_objects=None, compile=True):
    """The model of a Keras 3 ``.keras`` zip (``archive``, open), with its weights."""
    config = _json_member(archive, "config.json", filepath)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise SavedModelError(f"{filepath}: config.json has no model ('class_name', 'config')")
    f, size = _weights_file(archive, filepath)
    with f:
        try:
            described = _translated(config, filepath, custom_objects)
            # The architecture may not allocate more than the weights file holds.
            with checking_new_weights(_Budget(size, filepath)):
                model = layers.deserialize(described, custom_objects)
                build = config.get("build_config")
                if not model.built and isinstance(build, dict):
                    model.build_from_config(build)
        except SavedModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to rebuild is the file's fault
            raise SavedModelError(f"{filepath}: the Keras architecture cannot be rebuilt "
                                  f"({type(e).__name__}: {e})") from e
        weights_h5.load_from(model, f, filepath, skip=("optimizer/",))
        compiled = config.get("compile_config")
        if compile and isinstance(compiled, dict) and compiled:  # Keras 3.15: {} if never compiled
            try:
                settings = _translated(compiled, filepath, custom_objects)
                model.compile(optimizer=_object(optimizers, settings.get("optimizer")),
                              loss=_object(losses, settings.get("loss")),
                              metrics=settings.get("metrics"),
                              loss_weights=settings.get("loss_weights"),
                              weighted_metrics=settings.get("weighted_metrics"),
                              steps_per_execution=settings.get("steps_per_execution", 1))
            except Exception as e:  # noqa: BLE001
                raise SavedModelError(f"{filepath}: the saved compile settings are unusable "
                                      f"({type(e).__name__}: {e})") from e
            if "optimizer" in f:
                _restore_optimizer(model, f["optimizer"], filepath)
    return model


def _restore_optimizer(model, group, filepath):
    """Puts Keras's optimizer variables (``optimizer/vars/0``, ...) into the compiled
    model's optimizer: its step counter, its learning rate, then (when the file has them)
    its slots, built first, in Keras's order; all arrays are checked before any is set."""
    optimizer = model.optimizer
    stored = set(group["vars"]) if "vars" in group and set(group) == {"vars"} else None
    count = len(stored or ())
    if stored != {str(i) for i in range(count)}:
        raise SavedModelError(f"{filepath}: its optimizer group is malformed (expected "
                              f"optimizer/vars/0, 1, ...; found {sorted(group)[:5]})")
    targets = _base_state(optimizer)
    if count > len(targets):
        optimizer._build_new(model.trainable_weights)
        try:
            targets = keras_optimizer_state(model, optimizer)
        except KerasFormatError as e:
            raise SavedModelError(f"{filepath}: its optimizer state cannot be restored: "
                                  f"{e}") from None
    if count != len(targets):
        raise SavedModelError(
            f"{filepath}: its optimizer state holds {count} arrays, but the "
            f"{type(optimizer).__name__} of this model keeps {len(targets)} (step counter"
            f"{'' if optimizer._schedule is not None else ', learning rate'} and slots); the "
            f"file was saved from another model or optimizer")
    arrays = []
    for i, v in enumerate(targets):
        ds = group["vars"][str(i)]
        if tuple(ds.shape) != tuple(v.shape) or ds.dtype.kind not in "fiu":
            raise SavedModelError(f"{filepath}: optimizer/vars/{i} ({ds.dtype} "
                                  f"{tuple(ds.shape)}) does not fit '{v.name}' "
                                  f"({v.dtype} {tuple(v.shape)})")
        arrays.append(np.asarray(ds[()]).astype(np.dtype(v.dtype.name)))
    for v, array in zip(targets, arrays):
        v.assign(array)


# -- writing -------------------------------------------------------------------------------

class KerasFormatError(ValueError):
    """A model that Keras 3's ``.keras`` format cannot describe (the message says what, and
    to save it as ``.chainrule``, chainrule's own format, instead)."""


def keras_file_entries(model, compile_config=None, include_optimizer=True):
    """``{member: bytes}`` of a ``.keras`` file of ``model``: ``compile_config`` is how it
    was compiled, in chainrule's terms (None: not compiled, or not describable)."""
    config = _keras_model(model)
    optimizer = getattr(model, "optimizer", None)
    if compile_config is not None:
        config["compile_config"] = {
            **_keras_object(compile_config, "its compile settings", model=model),
            "run_eagerly": False, "jit_compile": False,
            "steps_per_execution": int(getattr(model, "steps_per_execution", 1))}
    groups = {}
    if compile_config is not None and include_optimizer and optimizer is not None:
        groups["optimizer/vars"] = (optimizer.name, keras_optimizer_state(model, optimizer))
    h5py = weights_h5._h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        weights_h5.write_to(f, model, groups)
    from ..version import __version__
    metadata = {"keras_version": KERAS_VERSION, "producer": f"chainrule {__version__}",
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    try:
        described = json.dumps(config).encode()
    except (TypeError, ValueError) as e:  # a call argument that is no data
        raise KerasFormatError(_advice(f"its configuration is not all data ({e})",
                                       model)) from None
    return {"metadata.json": json.dumps(metadata).encode(), "config.json": described,
            "model.weights.h5": buffer.getvalue()}


def keras_optimizer_state(model, optimizer):
    """``optimizer``'s variables in Keras's order (see :data:`KERAS_SLOTS`)."""
    name = type(optimizer).__name__
    if name not in KERAS_SLOTS or optimizers.REGISTRY.classes.get(name) is not type(optimizer):
        raise KerasFormatError(_advice(
            f"its optimizer is a {name}, whose state Keras does not lay out (Keras's "
            f"optimizers that chainrule has: {', '.join(sorted(KERAS_SLOTS))})", model))
    base = _base_state(optimizer)
    if not optimizer._slot_variables:  # not built yet: no slots to write (as Keras)
        return base
    ordered = []
    # Keras builds its slots for the model's trainable variables in its own layer order.
    trainable = [v for v in weights_h5.keras_variable_order(model) if v.trainable]
    for group in KERAS_SLOTS[name]:
        for v in trainable:
            slots = optimizer._slots.get(id(v))
            if slots is None:
                raise KerasFormatError(_advice(
                    f"its optimizer has no state for the weight '{v.name}' (it was built for "
                    f"other variables)", model))
            ordered += [slots[n] for n in group if n in slots]
    if len(ordered) != len(optimizer._slot_variables):
        raise KerasFormatError(_advice(
            f"its optimizer holds state for variables outside the model "
            f"({len(optimizer._slot_variables)} slots, {len(ordered)} for the model's "
            f"weights)", model))
    return base + ordered + list(getattr(optimizer, "_state_after_slots", ()))


def _base_state(optimizer):
    """The step counter, and the learning rate unless a schedule computes it (Keras keeps a
    variable for a fixed rate only)."""
    return [optimizer.iterations] + ([] if optimizer._schedule is not None
                                     else [optimizer._learning_rate])


def _advice(what, model):
    return (f"model '{model.name}' cannot be saved as a Keras 3 .keras file: {what}. Save it "
            f"as 'name.chainrule' (chainrule's own format, which keeps it whole), or its "
            f"weights alone with save_weights('name.weights.h5')")


def _registered(cls, registry):
    return registry.classes.get(cls.__name__) is cls


def _keras_model(model):
    """The model's entry of config.json in Keras's schema."""
    cls = type(model)
    if not _registered(cls, layers.REGISTRY):
        raise KerasFormatError(_advice(
            f"it is a {cls.__name__} (a subclassed model): Keras rebuilds a Sequential or "
            f"functional model from its configuration, a subclass only from its code, named "
            f"by @keras.saving.register_keras_serializable() (register it so)", model))
    entry = _keras_layer(model, model)
    if cls.__name__ not in ("Sequential", "Functional"):
        # a registered subclass: loading makes it from its config, then builds it for
        # this shape (its weights exist only once built) before setting the weights
        entry["build_config"] = model.get_build_config()
    return entry


def _keras_layer(layer, model):
    """A layer (a nested model too) as Keras's ``{module, class_name, config, ...}``."""
    cls = type(layer)
    if not _registered(cls, layers.REGISTRY):
        raise KerasFormatError(_advice(f"its layer '{layer.name}' is a {cls.__name__}, a class "
                                       f"of your own, which Keras cannot rebuild", model))
    if cls.__name__ == "Sequential":
        return _keras_sequential(layer, model)
    if cls.__name__ == "Functional":
        return _keras_functional(layer, model)
    try:
        described = serialize(layer)
        json.dumps(described)
    except (NotImplementedError, TypeError, ValueError) as e:
        raise KerasFormatError(_advice(f"its layer '{layer.name}' has no configuration as "
                                       f"data ({unsavable_part(layer) or e})", model)) from None
    return _keras_object(described, f"layer '{layer.name}'", model=model)


def _keras_sequential(seq, model):
    config = seq.get_config()
    members = ([seq._input_layer] if seq._input_layer is not None else []) + list(seq._layers)
    config["layers"] = [_keras_layer(layer, model) for layer in members]
    entry = {"module": "keras", "class_name": "Sequential", "config": config,
             "registered_name": None}
    if config.get("build_input_shape") is not None:
        entry["build_config"] = {"input_shape": config["build_input_shape"]}
    return entry


def _keras_functional(fn, model):
    local, counts = {}, {}  # id(node) -> (layer name, the node's index among that layer's)
    for node in fn._nodes:
        k = counts.get(id(node.layer), 0)
        counts[id(node.layer)] = k + 1
        local[id(node)] = (node.layer.name, k)

    def ref(t):
        name, k = local[id(t.node)]
        return [name, k, t._keras_history.tensor_index]

    def tensor(t):
        if not isinstance(t, KerasTensor):
            return t
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": np.dtype(t.dtype.name).name,
                           "keras_history": ref(t)}}

    entries = []
    input_class = layers.REGISTRY.classes["InputLayer"]
    for layer in fn._layers:
        entry = _keras_layer(layer, model)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [nest.map_structure(tensor, node.args)],
             "kwargs": nest.map_structure(tensor, dict(node.kwargs))}
            for node in fn._nodes if node.layer is layer and not isinstance(layer, input_class)]
        entries.append(entry)
    config = {"name": fn.name, "trainable": fn.trainable, "layers": entries,
              "input_layers": nest.map_structure(ref, fn._inputs_struct),
              "output_layers": nest.map_structure(ref, fn._outputs_struct)}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional",
            "build_config": {"input_shape": None}}


# Where a serialized object is looked for, by the key that holds it (else in every family,
# layers first).
_BY_KEY = {"optimizer": [optimizers.REGISTRY], "loss": [losses.REGISTRY],
           "metrics": [metrics.REGISTRY], "weighted_metrics": [metrics.REGISTRY],
           "learning_rate": [schedules.REGISTRY]}


def _keras_object(obj, where, families=None, model=None):
    """chainrule's ``{"class_name", "config"}`` dicts inside ``obj`` in Keras's form, each
    class looked up in the families Keras finds it in."""
    if isinstance(obj, list):
        return [_keras_object(x, where, families, model) for x in obj]
    if not isinstance(obj, dict):
        return obj
    name = obj.get("class_name")
    if isinstance(name, str) and isinstance(obj.get("config"), dict):
        registry = next((r for r in (families or _REGISTRIES) if name in r.classes), None)
        if registry is None:
            raise KerasFormatError(_advice(f"{name} (in {where}) is not one of the Keras "
                                           f"classes chainrule has", model))
        config = {key: _keras_object(value, where, _family_of(key), model)
                  for key, value in obj["config"].items()}
        _check_activation(config, where, model)
        return {"module": _MODULES[id(registry)], "class_name": name, "config": config,
                "registered_name": None}
    return {key: _keras_object(value, where, _family_of(key) or families, model)
            for key, value in obj.items()}


def _check_activation(config, where, model):
    """An activation Keras knows by name (chainrule's registry holds Keras 3's names);
    a function of your own is saved by its name, which Keras could not resolve."""
    name = config.get("activation")
    if isinstance(name, str) and name.lower() not in activations.REGISTRY.names:
        raise KerasFormatError(_advice(f"{where} uses the activation {name!r}, a function of "
                                       f"your own, which Keras cannot rebuild", model))


def _family_of(key):
    if key.endswith("_initializer"):
        return [initializers.REGISTRY]
    if key.endswith("_regularizer"):
        return [regularizers.REGISTRY]
    if key.endswith("_constraint"):
        return [constraints.REGISTRY]
    return _BY_KEY.get(key)



class _Budget:
    """What ``Layer.add_weight`` runs before it allocates, while the architecture is rebuilt:
    all the weights together may not take more bytes than the weights file (which holds
    them all) has."""

    def __init__(self, limit, filepath):
        self.left, self.filepath = limit, filepath

    def __call__(self, layer, name, shape, dtype):
        size = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        self.left -= size
        if self.left < 0:
            raise SavedModelError(
                f"{self.filepath}: the architecture makes more weights than model.weights.h5 "
                f"holds: layer '{layer.name}' would create '{name}' of shape {tuple(shape)} "
                f"({size:,} bytes)")


def _object(family, identifier):
    """A serialized object (``class_name`` and ``config``) made; names and lists as they are."""
    if isinstance(identifier, dict) and "class_name" in identifier:
        return family.get(identifier)
    if isinstance(identifier, list):  # one per output
        return [_object(family, x) for x in identifier]
    if isinstance(identifier, dict):  # by output name
        return {key: _object(family, x) for key, x in identifier.items()}
    return identifier


def _json_member(archive, name, filepath):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SavedModelError(f"{filepath}: a Keras file without {name}") from None
    if info.file_size > MAX_CONFIG_BYTES:
        raise SavedModelError(f"{filepath}: its {name} unpacks to {info.file_size:,} bytes, "
                              f"more than the {MAX_CONFIG_BYTES:,} a description may take")
    try:
        return json.loads(archive.read(info))
    except (ValueError, RecursionError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise SavedModelError(f"{filepath}: its {name} is not readable JSON ({e})") from None


def _translated(obj, filepath, custom_objects):
    """Keras's configuration ``obj`` in chainrule's terms (see the module docstring)."""
    if isinstance(obj, list):
        return [_translated(x, filepath, custom_objects) for x in obj]
    if not isinstance(obj, dict):
        return obj
    name = obj.get("class_name")
    if name == "__keras_tensor__":
        return {"__tensor__": list(obj["config"]["keras_history"])}
    if name in ("DTypePolicy", "FloatDTypePolicy"):
        return obj["config"]["name"]
    if isinstance(name, str) and isinstance(obj.get("config"), dict):
        cls = _class(name, filepath, custom_objects)
        out = {k: _translated(v, filepath, custom_objects) for k, v in obj.items()
               if k not in _BOOKKEEPING}
        out["config"] = _accepted(cls, _functional(out["config"]), filepath)
        if "inbound_nodes" in out:  # a layer of a functional model: its calls
            out["inbound_nodes"] = [_node(n, cls) for n in out["inbound_nodes"]]
        return out
    return {k: _translated(v, filepath, custom_objects) for k, v in obj.items()}


def _class(name, filepath, custom_objects):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for registry in _REGISTRIES:
        if name in registry.classes:
            return registry.classes[name]
    raise SavedModelError(f"{filepath}: the class {name!r} is not one chainrule has (layers, "
                          f"optimizers, losses, metrics, initializers, regularizers); pass "
                          f"custom_objects={{'{name}': TheClass}} for your own")


def _functional(config):
    """Keras's ``input_layers``/``output_layers`` (``[name, node, tensor]`` or a list of
    them) as chainrule's tensor references."""
    for key in ("input_layers", "output_layers"):
        refs = config.get(key)
        if isinstance(refs, list) and refs:
            config[key] = ({"__tensor__": refs} if isinstance(refs[0], str)
                           else [{"__tensor__": r} for r in refs])
    return config


def _node(node, cls=None):
    """A call: Keras keeps the positional arguments, chainrule the inputs (the first one)
    and the others by the names of ``call``'s parameters (``mha(query, value)``); Keras's
    recorded ``training`` is left to the call that runs the model."""
    args = node.get("args", [])
    kwargs = {k: v for k, v in node.get("kwargs", {}).items() if k != "training"}
    if len(args) > 1 and isinstance(cls, type) and hasattr(cls, "call"):
        parameters = list(inspect.signature(cls.call).parameters.values())[1:]
        named = [p.name for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]
        if len(named) >= len(args) and not any(n in kwargs for n in named[1:len(args)]):
            kwargs.update(zip(named[1:len(args)], args[1:]))
            return {"args": args[0], "kwargs": kwargs}
    return {"args": args[0] if len(args) == 1 else args, "kwargs": kwargs}


def _accepted(cls, config, filepath):
    """``config`` without the Keras options ``cls`` lacks, which must be off."""
    if not isinstance(cls, type) or "layers" in config:  # a function; a model reads its keys
        return config
    known = _keywords(cls)
    out = {}
    for key, value in config.items():
        if key in known:
            out[key] = value
        elif not (value is None or value is False or key == "name"
                  or (key in _INERT and _INERT[key] == value)):
            raise SavedModelError(f"{filepath}: {cls.__name__}'s Keras option {key}={value!r} "
                                  f"is not one chainrule has")
    return out


def _keywords(cls):
    """The keyword arguments ``cls(...)`` takes, through the ``**kwargs`` it passes up, and
    the keys of its configuration where it can be made with its defaults (a loss class
    whose ``__init__`` takes ``**kwargs`` for its function's arguments)."""
    known = set()
    try:
        known.update(cls().get_config())
    except Exception:  # noqa: BLE001 - it needs arguments (or has no config): the signature says
        pass
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        known.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                               p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return known
