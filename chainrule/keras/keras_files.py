"""Reading Keras 3's ``.keras`` files: a zip of ``config.json`` (Keras's schema: ``module``,
``class_name``, ``config``, ``build_config``, ``compile_config``), ``metadata.json`` and
``model.weights.h5`` (the layout of :mod:`.weights_h5`).

The configuration is translated into chainrule's (the same names, without Keras's
bookkeeping) and every class it names is looked up in a registry (layers, optimizers,
losses, metrics, initializers, regularizers), never imported. A Keras option chainrule does
not have is refused with its name unless it is off (None, False, or the inert default of a
feature that is off). The optimizer's state is not restored (its settings are).
"""

import inspect
import io
import json
import zipfile

import numpy as np

from . import initializers, layers, losses, metrics, optimizers, regularizers
from . import weights_h5
from .layers.layer import checking_new_weights
from .untrusted import MAX_CONFIG_BYTES, SavedModelError, weight_limit

__all__ = ["is_keras_file", "load_keras_file"]

# Keras's own keys around an object's configuration, not part of it.
_BOOKKEEPING = {"module", "registered_name", "build_config", "compile_config", "shared_object_id"}
# Keras options that do nothing at these values (the feature they tune is off).
_INERT = {"ema_momentum": 0.99, "ema_overwrite_frequency": None, "sparse": False,
          "ragged": False, "optional": False}
_REGISTRIES = [layers.REGISTRY, optimizers.REGISTRY, losses.REGISTRY, metrics.REGISTRY,
               initializers.REGISTRY, regularizers.REGISTRY]


def is_keras_file(archive):
    """Whether an open zip holds a Keras 3 model (its weights file is ``model.weights.h5``)."""
    return "model.weights.h5" in archive.namelist()


def load_keras_file(archive, filepath, custom_objects=None, compile=True):
    """The model of a Keras 3 ``.keras`` zip (``archive``, open), with its weights."""
    config = _json_member(archive, "config.json", filepath)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise SavedModelError(f"{filepath}: config.json has no model ('class_name', 'config')")
    info = archive.getinfo("model.weights.h5")
    limit = weight_limit()
    if info.file_size > limit:
        raise SavedModelError(f"{filepath}: its weights unpack to {info.file_size:,} bytes, "
                              f"more than this loader allows ({limit:,})")
    h5py = weights_h5._h5py()
    try:
        f = h5py.File(io.BytesIO(archive.read(info)), "r")
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise SavedModelError(f"{filepath}: its model.weights.h5 is damaged ({e})") from None
    with f:
        try:
            described = _translated(config, filepath, custom_objects)
            # The architecture may not allocate more than the weights file holds.
            with checking_new_weights(_Budget(info.file_size, filepath)):
                model = layers.deserialize(described, custom_objects)
        except SavedModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to rebuild is the file's fault
            raise SavedModelError(f"{filepath}: the Keras architecture cannot be rebuilt "
                                  f"({type(e).__name__}: {e})") from e
        weights_h5.load_from(model, f, filepath, skip=("optimizer/",))
    compiled = config.get("compile_config")
    if compile and isinstance(compiled, dict):
        try:
            settings = _translated(compiled, filepath, custom_objects)
            model.compile(optimizer=_object(optimizers, settings.get("optimizer")),
                          loss=_object(losses, settings.get("loss")),
                          metrics=settings.get("metrics"),
                          loss_weights=settings.get("loss_weights"),
                          steps_per_execution=settings.get("steps_per_execution", 1))
        except Exception as e:  # noqa: BLE001
            raise SavedModelError(f"{filepath}: the saved compile settings are unusable "
                                  f"({type(e).__name__}: {e})") from e
    return model


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
            out["inbound_nodes"] = [_node(n) for n in out["inbound_nodes"]]
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


def _node(node):
    """A call: Keras keeps the positional arguments, chainrule the inputs (the first one);
    Keras's recorded ``training`` is left to the call that runs the model."""
    args = node.get("args", [])
    kwargs = {k: v for k, v in node.get("kwargs", {}).items() if k != "training"}
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
    """The keyword arguments ``cls(...)`` takes, through the ``**kwargs`` it passes up."""
    known = set()
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        known.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                               p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return known
