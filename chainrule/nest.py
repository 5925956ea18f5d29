"""Nested structures of values: lists, tuples (namedtuples too) and dicts of leaves. Anything
else (a Tensor, an array, None) is a leaf.

One rule for dicts: they are walked in insertion order, the order the user wrote (which is
also the order of a Keras model's ``inputs=``/``outputs=``). TensorFlow's ``tf.nest`` sorts
dict keys instead; chainrule keeps the user's order so that ``model.outputs`` and
``model.output_names`` agree with the dict a model was built from. Where several structures
are walked together (:func:`map_structure` with several, :func:`same_structure`), dicts are
matched by key, so two dicts with the same keys in different orders are the same structure.
A rebuilt dict is a plain dict in the order of the (first) structure it is rebuilt from.

``flatten``, ``map_structure``, ``pack_sequence_as`` and ``is_nested`` are TensorFlow's names;
``tree_flatten``/``tree_unflatten`` (JAX's) split a structure into its leaves and a hashable
skeleton once, for rebuilding it many times around other leaves.
"""

__all__ = ["is_nested", "flatten", "map_structure", "pack_sequence_as", "same_structure",
           "tree_flatten", "tree_unflatten"]

_LEAF = None  # a leaf's skeleton


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def flatten(structure):
    """The leaves of ``structure``, depth first, in order."""
    out, stack = [], [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def map_structure(fn, *structures):
    """The first structure with every leaf replaced by ``fn(leaf, *the same leaf of each other
    structure)``; the structures must nest the same way (:func:`same_structure`)."""
    first, *others = structures
    if isinstance(first, dict):
        if not all(isinstance(o, dict) and o.keys() == first.keys() for o in others):
            raise ValueError(f"map_structure: a dict with keys {list(first)} does not match "
                             f"{', '.join(_describe(o) for o in others)}")
        return {k: map_structure(fn, v, *(o[k] for o in others)) for k, v in first.items()}
    if isinstance(first, (list, tuple)):
        if not all(type(o) is type(first) and len(o) == len(first) for o in others):
            raise ValueError(f"map_structure: {_describe(first)} does not match "
                             f"{', '.join(_describe(o) for o in others)}")
        return _sequence_like(first, [map_structure(fn, *items)
                                      for items in zip(first, *others)])
    if any(is_nested(o) for o in others):
        raise ValueError(f"map_structure: a leaf does not match "
                         f"{', '.join(_describe(o) for o in others)}")
    return fn(first, *others)


def pack_sequence_as(structure, flat):
    """The leaves ``flat`` (a flat sequence) arranged like ``structure``."""
    return tree_unflatten(tree_flatten(structure)[1], flat)


def same_structure(a, b):
    """Whether ``a`` and ``b`` nest the same way: the same list/tuple types and lengths, and
    dicts with the same keys (in any order)."""
    try:
        map_structure(lambda *_: None, a, b)
    except ValueError:
        return False
    return True


def tree_flatten(structure, list_is_leaf=False):
    """``(leaves, skeleton)``: the leaves in order and a hashable description of the rest. A
    list is a leaf with ``list_is_leaf`` (TensorFlow reads a list given to a Dataset as one
    array)."""
    leaves = []
    return leaves, _skeleton(structure, leaves, list_is_leaf)


def _skeleton(obj, leaves, list_is_leaf):
    if isinstance(obj, tuple) or (isinstance(obj, list) and not list_is_leaf):
        return (type(obj), tuple(_skeleton(o, leaves, list_is_leaf) for o in obj))
    if isinstance(obj, dict):
        return (dict, tuple((k, _skeleton(v, leaves, list_is_leaf)) for k, v in obj.items()))
    leaves.append(obj)
    return _LEAF


def tree_unflatten(skeleton, leaves):
    """The structure ``skeleton`` (from :func:`tree_flatten`) describes, around ``leaves``
    (any iterable, taken in order)."""
    return _rebuild(skeleton, iter(leaves))


def _rebuild(skeleton, leaves):
    if skeleton is _LEAF:
        return next(leaves)
    kind, items = skeleton
    if kind is dict:
        return {k: _rebuild(v, leaves) for k, v in items}
    return _sequence_like(kind, [_rebuild(s, leaves) for s in items], is_type=True)


def _sequence_like(like, values, is_type=False):
    """``values`` as a list, tuple or namedtuple of the type of ``like`` (or ``like`` itself
    with ``is_type``)."""
    kind = like if is_type else type(like)
    return kind(*values) if hasattr(kind, "_fields") else kind(values)


def _describe(x):
    if isinstance(x, dict):
        return f"a dict with keys {list(x)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return "a leaf"
