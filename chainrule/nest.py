"""Nested structures of values: lists, tuples (namedtuples too) and dicts, taken apart into a
skeleton and a flat list of leaves, and put back together.

``flatten(obj, leaves)`` appends the leaves to ``leaves`` and returns a hashable skeleton;
``unflatten(skeleton, iter(new_leaves))`` rebuilds the structure around other leaves.
"""

__all__ = ["flatten", "unflatten"]

LEAF = None


def flatten(obj, leaves, list_is_leaf=False, sort_keys=False):
    """The skeleton of ``obj``, its leaves appended to ``leaves`` in order. A list is a leaf
    with ``list_is_leaf`` (TensorFlow reads a list given to a Dataset as one array); dict
    keys are sorted with ``sort_keys`` (so two dicts built in different orders match)."""
    if isinstance(obj, tuple) or (isinstance(obj, list) and not list_is_leaf):
        return (type(obj), tuple(flatten(o, leaves, list_is_leaf, sort_keys) for o in obj))
    if isinstance(obj, dict):
        items = sorted(obj.items()) if sort_keys else obj.items()
        return (dict, tuple((k, flatten(v, leaves, list_is_leaf, sort_keys)) for k, v in items))
    leaves.append(obj)
    return LEAF


def unflatten(skeleton, leaves):
    """The structure ``skeleton`` describes, its leaves taken from the iterator ``leaves``."""
    if skeleton is LEAF:
        return next(leaves)
    kind, items = skeleton
    if kind is dict:
        return {k: unflatten(v, leaves) for k, v in items}
    values = [unflatten(s, leaves) for s in items]
    return kind(*values) if hasattr(kind, "_fields") else kind(values)
