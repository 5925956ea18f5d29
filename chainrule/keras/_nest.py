"""Nested structures (lists, tuples, dicts) of leaves: what models with several inputs or
outputs pass around. A Tensor, an array or anything else that is not a list, tuple or
dict is a leaf. Dicts are walked in insertion order (Keras sorts them; chainrule keeps
the order the user wrote, which is also the order of a model's ``inputs=``/``outputs=``).
"""

__all__ = ["is_nested", "flatten", "map_structure", "pack_like"]


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def flatten(x):
    """The leaves of ``x``, depth first, in order."""
    out, stack = [], [x]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def map_structure(fn, x):
    """``x`` with every leaf replaced by ``fn(leaf)``."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        values = [map_structure(fn, v) for v in x]
        return type(x)(*values) if hasattr(x, "_fields") else type(x)(values)
    return fn(x)


def pack_like(structure, leaves):
    """``leaves`` (a flat sequence) arranged like ``structure``."""
    it = iter(leaves)
    packed = map_structure(lambda _: next(it), structure)
    return packed
