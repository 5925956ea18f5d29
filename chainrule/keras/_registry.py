"""What the ``get(identifier)`` functions share: name lookup with one error message for
unknown names, objects from names or config dicts, and the ``Configurable`` base."""

import difflib
import re


def lookup(kind, name, table):
    """``table[name]`` (case-insensitive); an unknown name raises a ValueError that lists
    the valid names and suggests the closest one."""
    key = name.lower()
    if key in table:
        return table[key]
    if name in table:
        return table[name]
    valid = sorted(table)
    close = closest(name, valid)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Valid {kind} names: "
                     f"{', '.join(repr(v) for v in valid)}.")


def _words(name):
    """The lower-case words of a snake_case or CamelCase name."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)]


def closest(name, valid):
    """The name in ``valid`` that ``name`` most likely meant, or None: the one holding most
    words of ``name`` (each allowing a typo, or cut short), then with the fewest other words, then in the
    same style (snake_case or CamelCase), then the closest spelling; when none holds any,
    the closest spelling. Spelling alone would take 'binary_crossentropy' for
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


def from_name_or_config(kind, identifier, classes, names):
    """The object a name or a ``{"class_name": ..., "config": {...}}`` dict stands for:
    a class name (``classes``) or a registered name (``names``, any case) made with its
    default arguments, or the dict's class through ``from_config``; None for anything
    else."""
    if isinstance(identifier, str):
        return (classes.get(identifier) or lookup(kind, identifier, names))()
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name"))
        cls = classes.get(name) or lookup(kind, name, names)
        return cls.from_config(identifier.get("config", {}))
    return None


def serialize(obj):
    """``{"class_name": ..., "config": ...}`` for a :class:`Configurable` (for
    ``get_config``); anything else (a plain callable, None) as it is."""
    if isinstance(obj, Configurable):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj


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
