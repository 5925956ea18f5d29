"""The gradients the book's examples imply, computed through the tape."""

import numpy as np

import chainrule as tf


def test_scalar_variable():
    x = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        y = 2 * x + 3
    grad = tape.gradient(y, x)
    assert grad.dtype == tf.float32 and grad.shape == ()
    assert float(grad) == 2.0


def test_matrix_variable_sums_non_scalar_target():
    x = tf.Variable(tf.random.uniform((2, 2)))
    with tf.GradientTape() as tape:
        y = 5 * x + 2
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full((2, 2), 5, np.float32))


def test_list_of_sources_and_broadcast_bias():
    W = tf.Variable(tf.random.uniform((2, 2)))
    b = tf.Variable(tf.zeros((2,)))
    x = tf.random.uniform((2, 2))
    with tf.GradientTape() as tape:
        y = tf.matmul(x, W) + b
    grad_W, grad_b = tape.gradient(y, [W, b])
    np.testing.assert_array_equal(grad_b.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(grad_W.numpy(), np.repeat(x.numpy().sum(0)[:, None], 2, 1), rtol=1e-6)


def test_worked_graph_example():
    # loss = |y_true - (x * w + b)| with x = 2, w = 3, b = 1, y_true = 4
    w, b = tf.Variable(3.0), tf.Variable(1.0)
    x, y_true = tf.constant(2.0), tf.constant(4.0)
    with tf.GradientTape() as tape:
        x1 = x * w
        x2 = x1 + b
        loss = tf.abs(y_true - x2)
    assert (float(x1), float(x2), float(loss)) == (6.0, 7.0, 3.0)
    grad_w, grad_b = tape.gradient(loss, [w, b])
    assert float(grad_w) == 2.0 and float(grad_b) == 1.0


def test_acceleration_through_nested_tapes():
    time = tf.Variable(0.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            position = 4.9 * time ** 2
        speed = inner.gradient(position, time)
    acceleration = outer.gradient(speed, time)
    assert float(speed) == 0.0
    np.testing.assert_allclose(float(acceleration), 9.8, rtol=1e-6)


def test_constant_needs_watch():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 6.0
