"""Names of Keras objects: one :class:`Registry` per family (layers, optimizers, losses,
metrics, activations, initializers, regularizers), through which ``get(identifier)``,
``deserialize`` and saved configs resolve names; :func:`serialize`, the
``{"class_name": ..., "config": ...}`` form every family's configs share; the
``Configurable`` base; and :func:`snake_case`, how class names become default names.
"""

import difflib
import re
import threading

__all__ = ["Registry", "serialize", "Configurable", "snake_case", "get_custom_objects",
           "custom_objects_in_scope", "CustomObjectScope"]

# class -> "package>Name", as keras.saving.register_keras_serializable named it.
REGISTERED_NAMES = {}
# Keras's global custom objects (``keras.saving.get_custom_objects()``): names every family
# resolves, after the scopes' and before its own.
_GLOBAL_CUSTOM_OBJECTS = {}


class _Scopes(threading.local):
    stack = ()


_scopes = _Scopes()


def get_custom_objects():
    """The global ``{name: object}`` dict that configs, ``get`` and ``load_model`` resolve
    names in (add your classes and functions to it, or use ``register_keras_serializable``
    or ``custom_object_scope``)."""
    return _GLOBAL_CUSTOM_OBJECTS


def custom_objects_in_scope():
    """The global custom objects, then those of each open ``custom_object_scope`` (the
    innermost last, so it wins)."""
    merged = dict(_GLOBAL_CUSTOM_OBJECTS)
    for scope in _scopes.stack:
        merged.update(scope)
    return merged


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes those names resolvable
    (in configs, ``get`` and ``load_model``) inside the block, in this thread."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scopes.stack = _scopes.stack + (self.custom_objects,)
        return self

    def __exit__(self, *exc):
        _scopes.stack = _scopes.stack[:-1]
        return False


def snake_case(name):
    """``"SparseCategoricalAccuracy"`` -> ``"sparse_categorical_accuracy"``; as Keras, a
    digit stays with the capital after it (``"Conv2D"`` -> ``"conv2d"``, ``"Conv2DTranspose"``
    -> ``"conv2d_transpose"``)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """The named objects of one family (``kind``: "layer", "optimizer", ...).

    ``classes`` maps class names (what a config's ``"class_name"`` holds) to classes;
    ``names`` maps the names ``get("...")`` accepts, in any case, to a class (made with its
    default arguments) or a function (returned as it is)."""

    def __init__(self, kind):
        self.kind = kind
        self.classes = {}
        self.names = {}

    def register(self, obj, *names):
        """Adds ``obj`` (a class, under its class name, or a function) under ``names`` too;
        returns ``obj``."""
        if isinstance(obj, type):
            self.classes[obj.__name__] = obj
        for name in names:
            self.names[name] = obj
        return obj

    def lookup(self, name):
        """``names[name]`` (in any case); an unknown name raises a ValueError that lists the
        valid names and suggests the closest one."""
        key = name.lower()
        custom = custom_objects_in_scope()
        if name in custom and name not in self.classes:
            return custom[name]
        if key in self.names:
            return self.names[key]
        if name in self.names:
            return self.names[name]
        valid = sorted(self.names)
        close = closest(name, valid)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(f"Unknown {self.kind} {name!r}.{hint} Valid {self.kind} names: "
                         f"{', '.join(repr(v) for v in valid)}.")

    def from_name(self, name):
        """What ``name`` stands for: a class name or a registered class made with its default
        arguments, or a registered function."""
        found = self.classes.get(name) or self.lookup(name)
        return found() if isinstance(found, type) else found

    def class_named(self, name, custom_objects=None):
        """The class a config's ``class_name`` names: one of ``custom_objects``, a registered
        class, or (for families with names) a registered name."""
        classes = {**self.classes, **custom_objects_in_scope(), **(custom_objects or {})}
        if name in classes:
            return classes[name]
        if self.names:
            return self.lookup(str(name))
        raise ValueError(f"Unknown {self.kind} class {name!r}. Known: "
                         f"{', '.join(sorted(classes))}; pass custom_objects={{'{name}': "
                         f"{name}}} for your own {self.kind}s.")

    def deserialize(self, config, custom_objects=None):
        """The object a :func:`serialize` dict describes."""
        cls = self.class_named(config.get("class_name"), custom_objects)
        return cls.from_config(config.get("config", {}))


def _words(name):
    """The lower-case words of a snake_case or CamelCase name."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)]


def closest(name, valid):
    """The name in ``valid`` that ``name`` most likely meant, or None: the one holding most
    words of ``name`` (each allowing a typo, or cut short), then with the fewest other words,
    then in the same style (snake_case or CamelCase), then the closest spelling; when none
    holds any, the closest spelling. Spelling alone would take 'binary_crossentropy' for
    'sparse_crossentropy', not 'sparse_categorical_crossentropy'."""
    words = _words(name)

    def rank(candidate):
        theirs = _words(candidate)
        held = sum(any(t.startswith(w) for t in theirs) or
                   bool(difflib.get_close_matches(w, theirs, n=1, cutoff=0.8)) for w in words)
        style = (name.lower() == name) != (candidate.lower() == candidate)
        spelling = difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio()
        return -held, len(theirs), style, -spelling

    ranked = sorted((rank(v), v) for v in valid)
    if ranked and ranked[0][0][0] < 0:
        return ranked[0][1]
    close = difflib.get_close_matches(name.lower(), valid, n=1)
    return close[0] if close else None


def serialize(obj):
    """``{"class_name": ..., "config": ...}`` for an object with ``get_config`` (a layer, an
    optimizer, an initializer...); anything else (a plain function, None) as it is."""
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj


def unsavable_part(layer):
    """Why ``layer``'s configuration is not data, naming the argument that is not, as
    ``"layer 'dense' (Dense), argument kernel_initializer: <what> (why)"``; None when the
    configuration is data."""
    import json
    try:
        config = layer.get_config()
    except (NotImplementedError, TypeError, ValueError) as e:
        return f"layer '{layer.name}' ({type(layer).__name__}): {e}"
    for key, value in config.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            return (f"layer '{layer.name}' ({type(layer).__name__}), argument {key}: "
                    f"{value!r} has no saved form ({e}); pass a name or a keras object with "
                    f"get_config (e.g. an initializer class) instead")
    return None


class Configurable:
    """What initializers and regularizers share: ``get_config`` (their arguments),
    ``from_config`` and a ``repr`` that shows them."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
