"""chainrule.nest: one rule for dicts (insertion order; matched by key across structures)."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule import nest

Pair = namedtuple("Pair", "first second")


def test_flatten_walks_depth_first_and_dicts_in_insertion_order():
    structure = {"b": [1, (2, 3)], "a": {"y": 4, "x": 5}, "c": Pair(6, None)}
    assert nest.flatten(structure) == [1, 2, 3, 4, 5, 6, None]  # not sorted: b before a
    assert nest.tree_flatten(structure)[0] == nest.flatten(structure)
    assert nest.flatten(7) == [7] and nest.flatten([]) == []
    assert nest.is_nested([1]) and nest.is_nested({}) and not nest.is_nested(np.zeros(2))


def test_map_structure_keeps_the_structure_and_namedtuples():
    out = nest.map_structure(lambda v: v * 10, {"b": [1, Pair(2, 3)], "a": (4,)})
    assert out == {"b": [10, Pair(20, 30)], "a": (40,)}
    assert list(out) == ["b", "a"] and isinstance(out["b"][1], Pair)


def test_several_structures_match_dicts_by_key_in_the_first_ones_order():
    a = {"x": 1, "y": [2, 3]}
    b = OrderedDict([("y", [20, 30]), ("x", 10)])
    out = nest.map_structure(lambda u, v: u + v, a, b)
    assert out == {"x": 11, "y": [22, 33]} and list(out) == ["x", "y"]
    assert nest.same_structure(a, b)
    for other in ({"x": 1}, {"x": 1, "y": (2, 3)}, {"x": 1, "y": [2]}, [1, [2, 3]]):
        assert not nest.same_structure(a, other)
        with pytest.raises(ValueError, match="map_structure"):
            nest.map_structure(lambda *v: v, a, other)


def test_tree_flatten_and_unflatten_round_trip_around_other_leaves():
    structure = {"image": [np.zeros(2), np.ones(2)], "label": (5, Pair(6, 7))}
    leaves, skeleton = nest.tree_flatten(structure)
    assert len(leaves) == 5 and hash(skeleton) is not None
    rebuilt = nest.tree_unflatten(skeleton, range(5))
    assert rebuilt == {"image": [0, 1], "label": (2, Pair(3, 4))}
    assert nest.pack_sequence_as(structure, "abcde") == {"image": ["a", "b"],
                                                          "label": ("c", Pair("d", "e"))}
    leaves, skeleton = nest.tree_flatten({"ids": [1, 2, 3]}, list_is_leaf=True)
    assert leaves == [[1, 2, 3]] and nest.tree_unflatten(skeleton, ["x"]) == {"ids": "x"}


def test_cond_branches_may_build_their_dicts_in_different_orders():
    @cr.function
    def pick(flag):
        return cr.cond(flag > 0, lambda: {"b": cr.constant(2.0), "a": cr.constant(1.0)},
                       lambda: {"a": cr.constant(10.0), "b": cr.constant(20.0)})

    for flag, expected in ((1.0, {"a": 1.0, "b": 2.0}), (-1.0, {"a": 10.0, "b": 20.0})):
        out = pick(cr.constant(flag))
        assert list(out) == ["b", "a"]  # the true branch's order
        assert {k: float(v) for k, v in out.items()} == expected
    with pytest.raises(ValueError, match="different structures"):
        cr.function(lambda f: cr.cond(f > 0, lambda: {"a": cr.constant(1.0)},
                                      lambda: {"b": cr.constant(1.0)}))(cr.constant(1.0))
