"""tf.Module as TensorFlow's "Introduction to modules" guide uses it: variables found in
attributes (sorted by name, then submodules), trainable_variables, submodules, and a
training loop over trainable_variables."""

import doctest

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras, module


class Dense(tf.Module):
    def __init__(self, in_features, out_features, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(tf.random.normal([in_features, out_features]), name="w")
        self.b = tf.Variable(tf.zeros([out_features]), name="b")

    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class SequentialModule(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.dense_1 = Dense(in_features=3, out_features=3)
        self.dense_2 = Dense(in_features=3, out_features=2)

    def __call__(self, x):
        return self.dense_2(self.dense_1(x))


def test_variables_and_submodules_in_tensorflows_order():
    model = SequentialModule(name="the_model")
    assert model.name == "the_model" and Dense(1, 1).name == "dense"
    assert model.submodules == (model.dense_1, model.dense_2)
    variables = model.variables
    assert isinstance(variables, tuple)
    # own attributes sorted by name (b before w), then each submodule in turn
    assert [(v.name, v.shape) for v in variables] == [("b", (3,)), ("w", (3, 3)),
                                                      ("b", (2,)), ("w", (3, 2))]
    assert model(tf.constant([[2.0, 2.0, 2.0]])).shape == (1, 2)


def test_trainable_variables_and_lists_dicts_and_keras_layers():
    class Holder(tf.Module):
        def __init__(self):
            super().__init__()
            self.frozen = tf.Variable(1.0, trainable=False, name="frozen")
            self.parts = {"b": tf.Variable(2.0, name="part_b"),
                          "a": tf.Variable(3.0, name="part_a")}
            self.layer = keras.layers.Dense(2)
            self.layer.build((None, 3))
            self.again = [self.frozen]  # the same Variable twice: listed once

    holder = Holder()
    # attributes by name: again, frozen, layer, parts (dict keys sorted)
    assert [v.name.split("/")[-1] for v in holder.variables] == [
        "frozen", "kernel", "bias", "part_a", "part_b"]
    assert [v.name for v in holder.non_trainable_variables] == ["frozen"]
    assert len(holder.trainable_variables) == 4
    with pytest.raises(ValueError, match="not a valid module name"):
        tf.Module(name="has space")


def test_a_training_loop_over_trainable_variables():
    tf.random.set_seed(0)
    model = SequentialModule()
    x = tf.constant(np.random.default_rng(0).random((16, 3), dtype=np.float32))
    y = tf.reduce_sum(x, axis=1, keepdims=True) * tf.constant([[1.0, 0.5]])
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    losses = []
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert losses[-1] < losses[0] / 2


def test_docstring_example():
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
