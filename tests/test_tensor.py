"""Tensor and Variable: the protocol, dtype rules and in-place state."""

import numpy as np
import pytest

import chainrule as tf


def test_dtype_rules():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant([1.0, 2]).dtype == tf.float32
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant(np.zeros(2)).dtype == tf.float64  # NumPy arrays keep theirs
    assert tf.constant(1.0, dtype="float64").dtype == "float64"
    x = tf.ones((2,))
    assert (2 * x + 3).dtype == tf.float32
    assert (x * np.float64(2.0)).dtype == tf.float32  # NumPy scalars are weak too
    assert (tf.constant([1, 2]) * 3).dtype == tf.int32


def test_mixing_float_widths_is_an_error_with_a_hint():
    with pytest.raises(TypeError, match="add: operands have different dtypes, float32 and float64.*cast"):
        tf.ones((2,)) + tf.constant(np.ones(2))
    # A NumPy array is converted to the tensor's dtype, as TensorFlow converts it.
    assert (tf.ones((2,)) + np.ones(2)).dtype == "float32"
    with pytest.raises(TypeError, match="non-integer value 2.5"):
        tf.constant([1, 2]) * 2.5


def test_shape_ndim_len_and_scalar_conversions():
    x = tf.zeros((3, 4))
    assert x.shape == (3, 4) and x.ndim == 2 and len(x) == 3 and x.size == 12
    s = tf.constant(2.5)
    assert float(s) == 2.5 and int(s) == 2 and bool(s) and f"{s:.2f}" == "2.50"
    with pytest.raises(TypeError, match="exactly one element"):
        float(x)
    with pytest.raises(TypeError, match="len"):
        len(s)


def test_repr_and_str():
    x = tf.constant([[1.0], [2.0]])
    assert str(x).startswith("chainrule.Tensor(") and "shape=(2, 1), dtype=float32" in str(x)
    assert repr(tf.constant(1.5)) == "<chainrule.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert repr(tf.Variable([1.0], name="w")).startswith("<chainrule.Variable 'w' shape=(1,)")


def test_numpy_interop():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), [[1, 2], [3, 4]])
    assert isinstance(np.float32(2) * x, tf.Tensor)  # NumPy defers to Tensor's operators
    y = np.ones((2, 2), np.float32) + x
    assert isinstance(y, tf.Tensor) and float(y[1, 1]) == 5.0
    assert np.exp(x).shape == (2, 2)  # ufuncs convert through __array__


def test_operators():
    a = tf.constant([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((a - 1).numpy(), [0, 1, 2])
    np.testing.assert_array_equal((1 - a).numpy(), [0, -1, -2])
    np.testing.assert_array_equal((6 / a).numpy(), [6, 3, 2])
    np.testing.assert_array_equal((a ** 2).numpy(), [1, 4, 9])
    np.testing.assert_array_equal((2 ** a).numpy(), [2, 4, 8])
    np.testing.assert_array_equal((-a).numpy(), [-1, -2, -3])
    np.testing.assert_array_equal((a // 2).numpy(), [0, 1, 1])
    np.testing.assert_array_equal((a % 2).numpy(), [1, 0, 1])
    np.testing.assert_array_equal((a > 1).numpy(), [False, True, True])
    np.testing.assert_array_equal((a == 2).numpy(), [False, True, False])
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((m @ m).numpy(), np.array([[7, 10], [15, 22]]))
    np.testing.assert_array_equal(m.T.numpy(), [[1, 3], [2, 4]])
    np.testing.assert_array_equal(m[:, 1].numpy(), [2, 4])


def test_tensors_hash_by_identity():
    a, b = tf.Variable(1.0), tf.Variable(1.0)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_random_is_seeded():
    tf.random.set_seed(5)
    a = tf.random.uniform((3,))
    b = tf.random.normal((3,))
    tf.random.set_seed(5)
    np.testing.assert_array_equal(a.numpy(), tf.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(b.numpy(), tf.random.normal((3,)).numpy())
    u = tf.random.uniform((1000,), minval=2, maxval=3)
    assert u.dtype == tf.float32 and 2 <= float(tf.reduce_min(u)) and float(tf.reduce_max(u)) < 3
    assert tf.random.uniform((2,), maxval=5, dtype=tf.int32).dtype == tf.int32
