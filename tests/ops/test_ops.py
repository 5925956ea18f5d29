"""Ops against NumPy references, shape rules and the error messages people see."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as tf
from chainrule.autodiff.tape import unbroadcast

rng = np.random.default_rng(0)


def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (5, 6)), ((3, 4), (4,)), ((4,), (4, 3)),
    ((4,), (4,)), ((2, 3), (3, 2)), ((2, 3, 4), (5, 4, 6)),
])
def test_dot_matches_numpy_for_any_rank(a_shape, b_shape):
    a, b = arr(*a_shape), arr(*b_shape)
    out = tf.dot(a, b)
    np.testing.assert_allclose(out.numpy(), np.dot(a, b), rtol=1e-5, atol=1e-5)
    assert out.shape == np.dot(a, b).shape


def test_tensordot_and_matmul_variants():
    a, b = arr(2, 3, 4), arr(3, 4, 5)
    np.testing.assert_allclose(tf.tensordot(a, b, 2).numpy(), np.tensordot(a, b, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.tensordot(a, b, ([1], [0])).numpy(),
                               np.tensordot(a, b, ([1], [0])), rtol=1e-5, atol=1e-5)
    x, y = arr(3, 4), arr(5, 4)
    np.testing.assert_allclose(tf.matmul(x, y, transpose_b=True).numpy(), x @ y.T, rtol=1e-5)
    np.testing.assert_allclose(tf.matmul(arr(2, 3, 4), arr(4, 2)).shape, (2, 3, 2))


def test_matmul_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul: \(128, 784\) @ \(512, 10\): inner dimensions 784 and 512 differ"):
        tf.matmul(tf.zeros((128, 784)), tf.zeros((512, 10)))


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 2\) and \(4,\) cannot be broadcast"):
        tf.zeros((3, 2)) + tf.zeros((4,))


def test_broadcast_error_of_a_three_operand_op_names_every_shape():
    with pytest.raises(ValueError, match=r"where: shapes \(2, 3\), \(2, 3\) and \(4,\) cannot be"):
        tf.where(tf.ones((2, 3)) > 0, tf.zeros((2, 3)), tf.zeros((4,)))


def test_reshape_error():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        tf.reshape(tf.zeros((2, 3)), (4, -1))


def test_reductions():
    x = arr(3, 4, 5)
    for ours, ref in [(tf.reduce_sum, np.sum), (tf.reduce_mean, np.mean),
                      (tf.reduce_max, np.max), (tf.reduce_min, np.min)]:
        for axis in [None, 0, -1, (0, 2)]:
            np.testing.assert_allclose(ours(x, axis).numpy(), ref(x, axis), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ours(x, axis, keepdims=True).numpy(),
                                       ref(x, axis, keepdims=True), rtol=1e-5, atol=1e-6)
    assert int(tf.reduce_mean(tf.constant([1, 0, 1, 0]))) == 0  # integer mean truncates
    assert tf.reduce_mean(x).dtype == tf.float32
    with pytest.raises(ValueError, match="reduce_sum: axis 3 is out of range for a tensor of rank 3"):
        tf.reduce_sum(x, 3)


def test_shape_ops():
    x = arr(2, 3, 4)
    assert tf.reshape(x, (4, -1)).shape == (4, 6)
    assert tf.transpose(x).shape == (4, 3, 2)
    assert tf.transpose(x, (1, 0, 2)).shape == (3, 2, 4)
    assert tf.expand_dims(x, -1).shape == (2, 3, 4, 1)
    assert tf.squeeze(tf.zeros((1, 3, 1))).shape == (3,)
    assert tf.flatten(x).shape == (2, 12)
    assert tf.concat([x, x], axis=1).shape == (2, 6, 4)
    assert tf.stack([x, x], axis=0).shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(tf.gather(x, [2, 0], axis=2).numpy(), x[:, :, [2, 0]])
    np.testing.assert_array_equal(tf.broadcast_to(tf.constant([1, 2]), (3, 2)).numpy(), [[1, 2]] * 3)


def test_selection_and_casts():
    x = tf.constant([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])
    np.testing.assert_array_equal(tf.argmax(x).numpy(), [1, 0, 0])  # TensorFlow's default axis 0
    np.testing.assert_array_equal(tf.argmax(x, axis=1).numpy(), [1, 0])
    np.testing.assert_array_equal(tf.where(x > 2, x, 0).numpy(), [[0, 5, 3], [7, 0, 0]])
    np.testing.assert_array_equal(tf.where(x > 4).numpy(), [[0, 1], [1, 0]])
    assert tf.cast(x, tf.int32).dtype == tf.int32
    np.testing.assert_array_equal(tf.one_hot([0, 2], 3).numpy(), [[1, 0, 0], [0, 0, 1]])
    # a depth read off a tensor's shape, as the book's custom metric does
    depth = tf.shape(tf.ones((2, 4)))[1]
    np.testing.assert_array_equal(tf.one_hot([0, 3], depth=depth).numpy(),
                                  [[1, 0, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(tf.clip_by_value(x, 1.5, 4.0).numpy(), [[1.5, 4, 3], [4, 2, 1.5]])


def test_softmax_and_cross_entropy():
    logits = arr(4, 10) * 10
    p = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(tf.nn.log_softmax(logits).numpy(), np.log(p), rtol=1e-4, atol=1e-5)
    labels = np.array([0, 3, 9, 1], np.uint8)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    np.testing.assert_allclose(loss.numpy(), -np.log(p[np.arange(4), labels]), rtol=1e-4)
    big = tf.constant([[1000.0, 0.0]])
    assert np.isfinite(tf.nn.softmax(big).numpy()).all()
    assert float(tf.nn.sparse_softmax_cross_entropy_with_logits([1], big)[0]) == 1000.0


def test_cross_entropy_label_out_of_range():
    with pytest.raises(ValueError, match="label 10 is out of range for 10 classes"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(np.array([10]), tf.zeros((1, 10)))


@settings(max_examples=50, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=4, max_side=3))
def test_unbroadcast_inverts_broadcasting(shapes):
    """Summing a broadcast of x back gives x times the number of copies, in x's shape."""
    (shape,), target = shapes.input_shapes, shapes.result_shape
    x = rng.standard_normal(shape)
    g = unbroadcast(tf.constant(np.broadcast_to(x, target)), shape)
    copies = int(np.prod(target)) // max(int(np.prod(shape)), 1) if np.prod(shape) else 1
    assert g.shape == shape
    np.testing.assert_allclose(g.numpy(), x * copies, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
def test_binary_ops_broadcast_like_numpy(shapes):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes.input_shapes)
    out = tf.multiply(a, b) + tf.maximum(a, b)
    np.testing.assert_allclose(out.numpy(), a * b + np.maximum(a, b), rtol=1e-6)
    assert out.shape == shapes.result_shape
