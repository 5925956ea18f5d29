"""tf.slice, tf.gather_nd, tf.scatter_nd and tf.tensor_scatter_nd_*: TensorFlow's tensor-slicing
guide's examples, gradients against finite differences, and traced calls that read each
call's own coordinates."""

import numpy as np
import pytest

import chainrule as tf
from chainrule.testing import check_grads


def test_the_guides_examples():
    t1 = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
    assert tf.slice(t1, begin=[1], size=[3]).numpy().tolist() == [1, 2, 3]
    t2 = tf.reshape(tf.range(20), (4, 5))
    assert tf.slice(t2, begin=[1, 1], size=[2, -1]).numpy().tolist() == [[6, 7, 8, 9],
                                                                         [11, 12, 13, 14]]
    t4 = tf.constant([[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]])
    assert tf.gather_nd(t4, indices=[[2], [3], [0]]).numpy().tolist() == [[2, 7], [3, 8],
                                                                          [0, 5]]
    t5 = np.reshape(np.arange(18), [2, 3, 3])
    assert tf.gather_nd(t5, indices=[[0, 0, 0], [1, 2, 1]]).numpy().tolist() == [0, 16]
    assert tf.gather_nd(t5, indices=[[[0, 0], [0, 2]], [[1, 0], [1, 2]]]).numpy().tolist() == \
        [[[0, 1, 2], [6, 7, 8]], [[9, 10, 11], [15, 16, 17]]]
    out = tf.scatter_nd(indices=tf.constant([[1], [3], [5], [7], [9]]),
                        updates=tf.constant([2, 4, 6, 8, 10]), shape=tf.constant([10]))
    assert out.numpy().tolist() == [0, 2, 0, 4, 0, 6, 0, 8, 0, 10]
    t11 = tf.constant([[2, 7, 0], [9, 0, 1], [0, 3, 8]])
    assert tf.tensor_scatter_nd_add(t11, indices=[[0, 2], [1, 1], [2, 0]],
                                    updates=[6, 5, 4]).numpy().tolist() == \
        [[2, 7, 6], [9, 5, 1], [4, 3, 8]]
    eye = tf.tensor_scatter_nd_sub(t11, indices=[[0, 0], [0, 1], [1, 0], [1, 1], [1, 2],
                                                 [2, 1], [2, 2]],
                                   updates=[1, 7, 9, -1, 1, 3, 7])
    assert eye.numpy().tolist() == np.eye(3, dtype=int).tolist()
    assert tf.tensor_scatter_nd_update(t11, [[0, 0], [2, 2]], [100, -1]).numpy().tolist() == \
        [[100, 7, 0], [9, 0, 1], [0, 3, -1]]


def test_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    idx = np.stack([rng.integers(0, 4, size=(6,)), rng.integers(0, 5, size=(6,))], axis=-1)
    assert np.array_equal(tf.gather_nd(x, idx).numpy(), x[idx[:, 0], idx[:, 1]])
    updates = rng.normal(size=(6, 3)).astype(np.float32)
    want = np.zeros((4, 5, 3), np.float32)
    np.add.at(want, (idx[:, 0], idx[:, 1]), updates)  # repeated coordinates add up
    assert np.array_equal(tf.scatter_nd(idx, updates, (4, 5, 3)).numpy(), want)


def test_gradients_match_finite_differences():
    idx = np.array([[0, 1], [2, 0], [0, 1]])  # one coordinate read twice
    check_grads(lambda x: tf.gather_nd(x, idx) * 3.0, np.arange(6.0).reshape(3, 2) / 7)
    check_grads(lambda u: tf.scatter_nd(idx, u, (3, 2)) ** 2, np.array([0.5, -1.0, 2.0]))
    check_grads(lambda t, u: tf.tensor_scatter_nd_add(t, idx, u) * t,
                np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.3, 0.2, -0.4]))
    check_grads(lambda t, u: tf.tensor_scatter_nd_update(t, [[1, 1], [0, 0]], u) * t,
                np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.3, -0.4]))
    check_grads(lambda x: tf.slice(x, [1, 0], [-1, 1]) * x[:2, 1:], np.arange(6.0).reshape(3, 2))


def test_a_traced_function_reads_each_calls_coordinates():
    def step(x, idx, u):
        return tf.gather_nd(x, idx) + tf.reduce_sum(tf.scatter_nd(idx, u, (3, 4)), axis=1)[:2]

    compiled = tf.function(step)
    jitted = tf.function(step, jit_compile=True)
    x = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
    u = tf.constant([1.5, -2.0])
    for coords in ([[0, 1], [2, 3]], [[1, 0], [1, 0]], [[2, 2], [0, 3]]):
        idx = tf.constant(coords)
        want = step(x, idx, u).numpy()
        assert np.array_equal(compiled(x, idx, u).numpy(), want)
        assert np.array_equal(jitted(x, idx, u).numpy(), want)
    assert compiled.tracing_count == 1


def test_bad_coordinates_say_what_is_wrong():
    x = tf.zeros((2, 3))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"gather_nd: index \[1, 3\] is out of bounds for the axes \(2, 3\)"):
        tf.gather_nd(x, [[0, 0], [1, 3]])
    with pytest.raises(ValueError, match="each index has 3 coordinates, but the shape"):
        tf.gather_nd(x, [[0, 0, 0]])
    with pytest.raises(TypeError, match="indices must be integers; received dtype float32"):
        tf.scatter_nd(tf.constant([[0.0]]), [1.0], (2,))
    with pytest.raises(ValueError, match=r"updates must have shape \(2, 3\)"):
        tf.scatter_nd([[0], [1]], tf.ones((2,)), (2, 3))
    with pytest.raises(ValueError, match=r"the entry at \[0, 1\] is given 2 updates"):
        tf.tensor_scatter_nd_update(x, [[0, 1], [0, 1]], [1.0, 2.0])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="slice: begin 1 and size 2 on axis 0 reach outside its 2 entries"):
        tf.slice(x, [1, 0], [2, 1])
    with pytest.raises(ValueError, match="one entry per axis"):
        tf.slice(x, [0], [1])
