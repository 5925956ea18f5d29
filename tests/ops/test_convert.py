"""Mixed dtypes as TensorFlow converts them: NumPy arrays and Python numbers take the
dtype of the tensor they meet; two tensors of different float dtypes stay an error."""

import numpy as np
import pytest

import chainrule as tf


def test_numpy_float64_array_takes_the_tensors_dtype():
    W = tf.Variable([2.0, 4.0])
    line = W[0] / W[1] * np.linspace(-1, 4, 100)  # the book's chapter 3 cell
    assert line.dtype == "float32" and line.shape == (100,)
    np.testing.assert_allclose(line.numpy(), 0.5 * np.linspace(-1, 4, 100), rtol=1e-6)
    assert (np.linspace(0, 1, 3) * W[0]).dtype == "float32"  # reflected too
    assert (tf.constant([1.0, 2.0]) + np.array([1, 2])).dtype == "float32"
    assert tf.matmul(tf.ones((2, 3)), np.ones((3, 1))).dtype == "float32"
    assert (tf.constant([1.0], dtype="float64") * np.float32(2)).dtype == "float64"


def test_integer_tensors_refuse_fractions():
    assert (tf.constant([1, 2]) + np.array([1.0, 2.0])).dtype == "int32"
    with pytest.raises(TypeError, match="fractional values"):
        tf.constant([1, 2]) + np.array([0.5, 1.0])


def test_two_tensors_of_different_float_dtypes_stay_an_error():
    with pytest.raises(TypeError, match="operands have different dtypes, float32 and float64"):
        tf.constant([1.0]) + tf.constant([1.0], dtype="float64")


def test_gradient_flows_through_the_converted_operand():
    w = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(w * np.array([1.0, 2.0]))
    assert float(tape.gradient(y, w)) == 3.0
