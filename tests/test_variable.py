"""Variable: assigned in place, named, snapshots by numpy()."""

import numpy as np
import pytest

import chainrule as tf


def test_variable_assign_in_place():
    v = tf.Variable(tf.zeros((2, 2)), name="kernel")
    buffer = v._value
    assert v.assign(tf.ones((2, 2))) is v
    v.assign_add(tf.ones((2, 2)))
    v.assign_sub(0.5)
    assert v._value is buffer  # identity and buffer kept
    np.testing.assert_array_equal(v.numpy(), np.full((2, 2), 1.5))
    v[0, 0].assign(3.0)
    v[1].assign_add([1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [[3, 1.5], [2.5, 2.5]])


def test_variable_numpy_is_a_snapshot():
    v = tf.Variable([1.0])
    snapshot = v.numpy()
    v.assign([2.0])
    assert snapshot[0] == 1.0


def test_variable_assign_errors_name_the_variable():
    v = tf.Variable(tf.zeros((2, 2)), name="kernel")
    with pytest.raises(ValueError, match=r"'kernel'.assign: value of shape \(3,\) does not fit the variable's shape \(2, 2\)"):
        v.assign(tf.zeros((3,)))
    with pytest.raises(TypeError, match="'kernel'.assign: value of dtype complex128"):
        v.assign(np.zeros((2, 2), complex))
    with pytest.raises(ValueError, match="shape"):
        tf.Variable(tf.zeros((2,)), shape=(3,))


def test_variable_names_are_unique():
    a, b = tf.Variable(1.0, name="w"), tf.Variable(1.0, name="w")
    assert a.name == "w" and b.name == "w"  # explicit names are kept as given
    c, d = tf.Variable(1.0), tf.Variable(1.0)
    assert c.name != d.name
