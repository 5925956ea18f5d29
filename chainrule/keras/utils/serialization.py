"""Keras's names for objects as data: ``serialize_keras_object`` /
``deserialize_keras_object`` (the ``{"module", "class_name", "config", "registered_name"}``
form of Keras's files) and ``get_registered_name`` / ``get_registered_object`` (the names
``register_keras_serializable`` and the custom objects give)."""

import inspect

import numpy as np

from .. import (activations, constraints, initializers, layers, losses, metrics, optimizers,
                regularizers)
from .._registry import REGISTERED_NAMES, custom_objects_in_scope
from ..optimizers import schedules

__all__ = ["serialize_keras_object", "deserialize_keras_object", "get_registered_name",
           "get_registered_object"]


def get_registered_name(obj):
    """The name ``register_keras_serializable`` gave ``obj`` (``"package>Name"``), else its
    own ``__name__``."""
    return REGISTERED_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """What ``name`` stands for in ``custom_objects``, an open ``custom_object_scope``, the
    global custom objects (where registered classes are) or ``module_objects``; None if
    none has it."""
    for table in (custom_objects, custom_objects_in_scope(), module_objects):
        if table and name in table:
            return table[name]
    return None


def _families():
    """(registry, the Keras module Keras finds its classes in), for every family."""
    return [(layers.REGISTRY, "keras.layers"), (optimizers.REGISTRY, "keras.optimizers"),
            (schedules.REGISTRY, "keras.optimizers.schedules"), (losses.REGISTRY, "keras.losses"),
            (metrics.REGISTRY, "keras.metrics"), (initializers.REGISTRY, "keras.initializers"),
            (regularizers.REGISTRY, "keras.regularizers"),
            (constraints.REGISTRY, "keras.constraints"),
            (activations.REGISTRY, "keras.activations")]


def serialize_keras_object(obj):
    """``obj`` as data: None, numbers, strings and lists/dicts of them as they are; an
    object with ``get_config`` as Keras's ``{"module", "class_name", "config",
    "registered_name"}``; a function as its name (``"relu"``, ``"mse"``)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, type):
        return get_registered_name(obj)
    if hasattr(obj, "get_config"):
        cls = type(obj)
        module = next((module for r, module in _families()
                       if r.classes.get(cls.__name__) is cls), cls.__module__)
        return {"module": module, "class_name": cls.__name__,
                "config": serialize_keras_object(obj.get_config()),
                "registered_name": REGISTERED_NAMES.get(cls)}
    if callable(obj) and hasattr(obj, "__name__"):
        return get_registered_name(obj)
    raise TypeError(f"serialize_keras_object: {obj!r} of type {type(obj).__name__} has no "
                    f"saved form (it needs get_config, or to be a function of keras)")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a :func:`serialize_keras_object` result describes. A dict with
    ``class_name`` is made by its class's ``from_config`` (the class found in
    ``custom_objects``, the custom objects in scope, or chainrule's Keras families); a
    string is looked up in ``custom_objects``, the custom objects in scope and
    ``module_objects``; anything else is returned as it is."""
    module_objects = kwargs.get("module_objects")
    if isinstance(config, list):
        return [deserialize_keras_object(c, custom_objects, safe_mode, **kwargs) for c in config]
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        if found is None:
            raise ValueError(f"deserialize_keras_object: {config!r} is not a custom object "
                             f"or one of module_objects; pass custom_objects={{{config!r}: "
                             f"...}} or a config dict")
        return found
    if not isinstance(config, dict) or "class_name" not in config:
        return config
    name = config.get("registered_name") or config["class_name"]
    cls = get_registered_object(name, custom_objects, module_objects) or \
        get_registered_object(config["class_name"], custom_objects, module_objects)
    if cls is None:
        cls = next((r.classes[config["class_name"]] for r, _ in _families()
                    if config["class_name"] in r.classes), None)
    if cls is None:
        raise ValueError(f"deserialize_keras_object: unknown class {config['class_name']!r}; "
                         f"pass custom_objects={{'{config['class_name']}': TheClass}}")
    inner = config.get("config", {})
    try:
        return cls.from_config(inner, custom_objects=custom_objects) \
            if "custom_objects" in _parameters(cls.from_config) else cls.from_config(inner)
    except TypeError as e:
        raise TypeError(f"deserialize_keras_object: {cls.__name__}.from_config could not "
                        f"use the config {inner!r}: {e}") from None


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
