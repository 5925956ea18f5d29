"""Layers: lazy building, Keras's initializer formulas, names, weights, autocast, config."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import initializers, layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.utils.clear_session()


def test_dense_builds_lazily_from_the_first_input():
    dense = layers.Dense(512, activation="relu")
    assert not dense.built and dense.weights == []
    with pytest.raises(AttributeError, match="Dense layer 'dense' has no kernel yet"):
        dense.kernel  # noqa: B018
    out = dense(np.zeros((3, 784), np.float32))
    assert dense.built and out.shape == (3, 512) and out.dtype == np.float32
    assert dense.kernel.shape == (784, 512) and dense.bias.shape == (512,)
    assert dense.weights == [dense.kernel, dense.bias]
    assert dense.trainable_weights == [dense.kernel, dense.bias]
    assert dense.kernel.name == "dense/kernel" and dense.count_params() == 401_920


def test_names_count_up_per_class():
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Flatten().name,
             layers.Dense(1, name="mine").name, layers.Dense(1).name]
    assert names == ["dense", "dense_1", "flatten", "mine", "dense_2"]


def test_glorot_uniform_limit_and_zero_bias():
    cr.random.set_seed(0)
    dense = layers.Dense(512)
    dense.build((None, 784))
    limit = math.sqrt(6 / (784 + 512))
    assert limit == pytest.approx(0.0680414, abs=1e-7)
    k = dense.kernel.numpy()
    assert k.dtype == np.float32 and np.abs(k).max() <= limit
    assert np.abs(k).max() > 0.99 * limit  # the draw fills the interval
    assert k.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)
    np.testing.assert_array_equal(dense.bias.numpy(), 0)
    small = initializers.GlorotUniform()((512, 10)).numpy()
    assert np.abs(small).max() <= math.sqrt(6 / 522) == pytest.approx(0.1072113, abs=1e-7)


@pytest.mark.parametrize("name,check", [
    ("uniform", lambda a: np.abs(a).max() <= 0.05 and a.std() == pytest.approx(0.05 / math.sqrt(3), rel=0.02)),
    ("random_uniform", lambda a: np.abs(a).max() <= 0.05),
    ("normal", lambda a: a.std() == pytest.approx(0.05, rel=0.02) and abs(a.mean()) < 0.002),
    ("random_normal", lambda a: a.std() == pytest.approx(0.05, rel=0.02)),
    ("truncated_normal", lambda a: np.abs(a).max() <= 0.1 + 1e-7),
    ("he_normal", lambda a: a.std() == pytest.approx(math.sqrt(2 / 400), rel=0.03)),
    ("he_uniform", lambda a: np.abs(a).max() <= math.sqrt(6 / 400)),
    ("glorot_normal", lambda a: a.std() == pytest.approx(math.sqrt(2 / 700), rel=0.03)),
    ("lecun_normal", lambda a: a.std() == pytest.approx(math.sqrt(1 / 400), rel=0.03)),
    ("zeros", lambda a: not a.any()),
    ("ones", lambda a: (a == 1).all()),
])
def test_initializers_by_name(name, check):
    values = initializers.get(name)((400, 300)).numpy()
    assert values.shape == (400, 300) and values.dtype == np.float32
    assert check(values)


def test_seeding_makes_weights_repeatable():
    def kernel():
        keras.utils.set_random_seed(42)
        d = layers.Dense(3)
        d.build((None, 4))
        return d.kernel.numpy()
    np.testing.assert_array_equal(kernel(), kernel())
    seeded = initializers.RandomNormal(seed=5)
    np.testing.assert_array_equal(seeded((3, 3)).numpy(), seeded((3, 3)).numpy())


def test_dense_validates_units():
    for bad in (0, -3, 2.5, "8"):
        with pytest.raises(ValueError, match="units must be a positive integer"):
            layers.Dense(bad)


def test_activations_by_name_and_callable():
    x = cr.constant([[-1.0, 0.0, 2.0]])
    assert layers.Activation("relu")(x).numpy().tolist() == [[0.0, 0.0, 2.0]]
    np.testing.assert_allclose(layers.Activation("softmax")(x).numpy().sum(), 1, rtol=1e-6)
    np.testing.assert_allclose(layers.Activation("sigmoid")(x).numpy(), 1 / (1 + np.exp([[1.0, 0.0, -2.0]])), rtol=1e-6)
    np.testing.assert_allclose(layers.Activation("tanh")(x).numpy(), np.tanh([[-1.0, 0.0, 2.0]]), rtol=1e-6)
    assert layers.Activation("linear")(x) is x
    assert layers.Activation(cr.nn.relu)(x).numpy().tolist() == [[0.0, 0.0, 2.0]]
    with pytest.raises(ValueError, match="Unknown activation 'rellu'.*Did you mean 'relu'"):
        layers.Dense(3, activation="rellu")


def test_dense_on_rank_3_inputs_contracts_the_last_axis():
    d = layers.Dense(2)
    x = np.ones((4, 5, 3), np.float32)
    assert d(x).shape == (4, 5, 2)
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(d(x))
    gk, gb = tape.gradient(y, [d.kernel, d.bias])
    np.testing.assert_allclose(gk.numpy(), np.full((3, 2), 20.0))
    np.testing.assert_allclose(gb.numpy(), [20.0, 20.0])


def test_float64_inputs_are_cast_to_float32_and_integers_work():
    d = layers.Dense(2)
    assert d(np.ones((1, 3), np.float64)).dtype == np.float32
    assert d(np.ones((1, 3), np.uint8)).dtype == np.float32


def test_feature_count_mismatch_names_the_layer_and_shapes():
    d = layers.Dense(4, name="hidden")
    d(np.zeros((2, 784), np.float32))
    with pytest.raises(ValueError) as e:
        d(np.zeros((2, 780), np.float32))
    message = str(e.value)
    assert "layer 'hidden'" in message and "784" in message and "(2, 780)" in message
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layers.Dense(3)(np.zeros(5, np.float32))


def test_flatten_and_dropout():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert layers.Flatten()(x).shape == (2, 12)
    drop = layers.Dropout(0.5)
    ones = np.ones((1000, 10), np.float32)
    assert drop(ones) .numpy().tolist() == ones.tolist()  # not training: identity
    trained = drop(ones, training=True).numpy()
    assert set(np.unique(trained)) <= {0.0, 2.0}
    assert abs((trained == 0).mean() - 0.5) < 0.03
    with pytest.raises(ValueError, match="rate must be in"):
        layers.Dropout(1.0)


def test_custom_layer_with_add_weight():
    class Linear(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.frozen = self.add_weight(shape=(), initializer="ones", trainable=False, name="c")

        def call(self, inputs):
            return cr.matmul(inputs, self.w) + self.b

    layer = Linear(3)
    assert layer(cr.ones((2, 4))).shape == (2, 3)
    assert [w.name for w in layer.weights] == ["linear/w", "linear/b", "linear/c"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 1
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.weights) == 3


def test_nested_layers_are_found_by_walking_attributes():
    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.first = layers.Dense(4)
            self.rest = [layers.Dense(2)]

        def call(self, x):
            return self.rest[0](self.first(x))

    block = Block()
    block(np.ones((1, 3), np.float32))
    assert [w.name for w in block.weights] == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]


def test_get_config_round_trip():
    d = layers.Dense(7, activation="softmax", use_bias=False, kernel_initializer="he_normal",
                     name="out")
    config = d.get_config()
    assert config["units"] == 7 and config["activation"] == "softmax" and config["name"] == "out"
    assert config["kernel_initializer"] == {"class_name": "HeNormal", "config": {"seed": None}}
    clone = layers.deserialize(layers.serialize(d))
    assert isinstance(clone, layers.Dense) and clone.get_config() == config
    clone(np.ones((1, 2), np.float32))
    assert clone.weights == [clone.kernel] and clone.bias is None


def test_input_layer():
    inp = keras.Input(shape=(784,))
    assert inp.shape == (None, 784) and inp.dtype == np.float32
    assert layers.InputLayer(shape=(3,)).batch_shape == (None, 3)
