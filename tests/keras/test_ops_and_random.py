"""``keras.ops`` and ``keras.random`` as Keras 3 names them: chainrule's own ops under Keras's
names and arguments, Keras's seeding rules, draws that a compiled step makes afresh, and an
error that says so for a Keras name chainrule lacks."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.errors import MissingNameError
from chainrule.keras import layers, ops, random

from ._helpers import blobs

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10 - 1


def test_same_names_are_chainrules_own_ops():
    for name in ["exp", "log", "sqrt", "abs", "square", "relu", "sigmoid", "matmul", "where",
                 "einsum", "cast", "stack", "expand_dims", "squeeze", "maximum", "tanh"]:
        assert getattr(ops, name) is getattr(cr.ops, name), name


@pytest.mark.parametrize("call, expected", [
    (lambda: ops.sum(X, axis=1), X.sum(1)),
    (lambda: ops.sum(X, axis=[0, 2], keepdims=True), X.sum((0, 2), keepdims=True)),
    (lambda: ops.mean(X), X.mean()),
    (lambda: ops.max(X, axis=-1), X.max(-1)),
    (lambda: ops.min(X, axis=0, keepdims=True), X.min(0, keepdims=True)),
    (lambda: ops.prod(X + 2, axis=2), (X + 2).prod(2)),
    (lambda: ops.var(X, axis=1), X.var(1)),
    (lambda: ops.std(X), X.std()),
    (lambda: ops.logsumexp(X, axis=1), np.log(np.exp(X).sum(1))),
    (lambda: ops.argmax(X, axis=1), X.argmax(1)),
    (lambda: ops.argmax(X), X.argmax()),
    (lambda: ops.argmin(X, axis=2, keepdims=True), X.argmin(2)[..., None]),
    (lambda: ops.cumsum(X), X.cumsum()),
    (lambda: ops.cumsum(X, axis=1), X.cumsum(1)),
    (lambda: ops.reshape(X, (4, 6)), X.reshape(4, 6)),
    (lambda: ops.ravel(X), X.ravel()),
    (lambda: ops.transpose(X), X.transpose()),
    (lambda: ops.transpose(X, axes=(1, 0, 2)), X.transpose(1, 0, 2)),
    (lambda: ops.swapaxes(X, 0, 2), X.swapaxes(0, 2)),
    (lambda: ops.moveaxis(X, 0, -1), np.moveaxis(X, 0, -1)),
    (lambda: ops.concatenate([X, X], axis=1), np.concatenate([X, X], 1)),
    (lambda: ops.concatenate([X, X]), np.concatenate([X, X])),
    (lambda: ops.clip(X, -0.5, 0.5), np.clip(X, -0.5, 0.5)),
    (lambda: ops.take(X, [1, 0], axis=2), X.take([1, 0], axis=2)),
    (lambda: ops.take(X, [5, 7]), X.take([5, 7])),
    (lambda: ops.slice(X, (0, 1, 1), (2, 2, 2)), X[0:2, 1:3, 1:3]),
    (lambda: ops.get_item(X, (1, 2)), X[1, 2]),
    (lambda: ops.pad(X, [[0, 0], [1, 0], [0, 2]]), np.pad(X, [[0, 0], [1, 0], [0, 2]])),
    (lambda: ops.ones((2, 3)), np.ones((2, 3), np.float32)),
    (lambda: ops.zeros((2,), dtype="int32"), np.zeros(2, np.int32)),
    (lambda: ops.full((2, 2), 7.0), np.full((2, 2), 7.0, np.float32)),
    (lambda: ops.full_like(X, 2.0), np.full_like(X, 2.0)),
    (lambda: ops.arange(5), np.arange(5, dtype=np.int32)),
    (lambda: ops.arange(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25, dtype=np.float32)),
    (lambda: ops.eye(3, 2), np.eye(3, 2, dtype=np.float32)),
    (lambda: ops.one_hot(np.array([2, 0]), 3), np.eye(3, dtype=np.float32)[[2, 0]]),
    (lambda: ops.outer(np.arange(3.0), np.arange(2.0)), np.outer(np.arange(3.0), np.arange(2.0))),
    (lambda: ops.tensordot(X, X.transpose(1, 2, 0)),
     np.tensordot(X, X.transpose(1, 2, 0), axes=2)),
    (lambda: ops.logical_xor(np.array([True, False]), np.array([True, True])), [False, True]),
    (lambda: ops.average(X, axis=0, weights=np.array([1.0, 3.0])), (X[0] + 3 * X[1]) / 4),
    (lambda: ops.gelu(X), 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X ** 3)))),
    (lambda: ops.leaky_relu(X, negative_slope=0.1), np.where(X > 0, X, 0.1 * X)),
    (lambda: ops.softmax(X, axis=0), np.exp(X) / np.exp(X).sum(0)),
])
def test_adapters_take_kerass_arguments(call, expected):
    np.testing.assert_allclose(np.asarray(call()), expected, rtol=1e-5, atol=1e-6)


def test_shape_and_conversion_are_kerass():
    assert ops.shape(X) == (2, 3, 4) and isinstance(ops.shape(X), tuple)
    assert ops.ndim(X) == 3 and ops.dtype(X) == "float32"
    t = ops.convert_to_tensor([1, 2], dtype="float32")
    assert t.dtype == cr.float32
    assert ops.convert_to_tensor(t, dtype="float64").dtype == cr.float64  # a tensor is cast
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)
    assert ops.is_tensor(t) and not ops.is_tensor(X)


def test_ops_differentiate_as_the_ops_they_are():
    x = cr.Variable(X.astype(np.float64))
    with cr.GradientTape() as tape:
        y = ops.sum(ops.square(ops.clip(x, -0.5, 0.5)), axis=[0, 1])
        y = ops.mean(y)
    grad = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(grad, np.where(np.abs(X) <= 0.5, 2 * X / 4, 0), atol=1e-7)


def test_a_missing_keras_op_says_so():
    with pytest.raises(AttributeError, match="'sort' is a Keras op that chainrule does not "
                                             "have yet") as info:
        ops.sort  # noqa: B018
    assert isinstance(info.value, MissingNameError) and "matmul" in str(info.value)
    with pytest.raises(AttributeError, match="has no attribute 'sortt'"):
        ops.sortt  # noqa: B018
    assert not hasattr(ops, "top_k")
    with pytest.raises(AttributeError, match="Keras random function"):
        random.categorical  # noqa: B018


def test_an_int_seed_gives_the_same_draw_each_call():
    for draw in [lambda s: random.normal((3, 2), seed=s),
                 lambda s: random.uniform((4,), minval=2, maxval=3, seed=s),
                 lambda s: random.truncated_normal((50,), seed=s),
                 lambda s: random.randint((5,), 0, 10, seed=s),
                 lambda s: random.dropout(np.ones(8, np.float32), 0.5, seed=s),
                 lambda s: random.shuffle(np.arange(8), seed=s)]:
        np.testing.assert_array_equal(draw(4), draw(4))
        assert not np.array_equal(draw(4), draw(5))


def test_a_seed_generator_advances_and_repeats_from_its_seed():
    gen = random.SeedGenerator(7)
    a, b = random.normal((4,), seed=gen), random.normal((4,), seed=gen)
    assert not np.array_equal(a, b)
    again = random.SeedGenerator(7)
    np.testing.assert_array_equal(random.normal((4,), seed=again), a)
    np.testing.assert_array_equal(random.normal((4,), seed=again), b)
    assert random.SeedGenerator.from_config(gen.get_config()).seed == 7
    x = random.uniform((1000,), seed=gen)
    assert x.dtype == cr.float32 and 0 <= float(ops.min(x)) and float(ops.max(x)) < 1
    assert random.randint((10,), 3, 5, seed=gen).dtype == cr.int32
    assert abs(float(ops.std(random.truncated_normal((4000,), seed=gen))) - 0.88) < 0.05
    with pytest.raises(TypeError, match="SeedGenerator"):
        random.normal((2,), seed="7")


def test_seed_generators_draw_afresh_in_traced_functions():
    def draws(fn_wrap):
        gen = random.SeedGenerator(3)
        fn = fn_wrap(lambda: random.normal((3,), seed=gen) + random.uniform((3,), seed=1))
        return [fn().numpy() for _ in range(3)]

    eager, traced = draws(lambda f: f), draws(cr.function)
    for a, b in zip(eager, traced):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(traced[0], traced[1])


class Noise(layers.Layer):
    """Keras-3-style noise layer: its own SeedGenerator, active only in training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = random.SeedGenerator(11)

    def call(self, inputs, training=None):
        if training:
            return inputs + random.normal(ops.shape(inputs), stddev=0.5, seed=self.seed_generator)
        return inputs


@pytest.mark.parametrize("jit", [False, True])
def test_compiled_fit_draws_as_eager_fit(jit):
    def fit(jit):
        x, y = blobs(200)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([Noise(), layers.Dense(8, activation="relu"),
                                  layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      jit_compile=jit)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a step that falls back to eager warns
            return model.fit(x, y, epochs=2, batch_size=64, verbose=0).history["loss"]

    assert fit(False) == fit(jit)
