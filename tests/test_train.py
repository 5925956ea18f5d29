"""tf.train.Checkpoint and list_variables: Variables saved by attribute path, restored into
objects of the same structure."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras


class Dense(tf.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = tf.Variable(tf.random.normal([n_in, n_out]))
        self.b = tf.Variable(tf.zeros([n_out]))

    def __call__(self, x):
        return x @ self.w + self.b


class Two(tf.Module):
    def __init__(self):
        super().__init__()
        self.dense_1 = Dense(3, 3)
        self.dense_2 = Dense(3, 2)
        self.extra = [tf.Variable(1.0)]

    def __call__(self, x):
        return self.dense_2(self.dense_1(x))


def test_write_list_and_restore(tmp_path):
    model = Two()
    path = tf.train.Checkpoint(model=model).write(tmp_path / "ckpt")
    assert path.endswith(".chainrule-ckpt")
    assert tf.train.list_variables(tmp_path / "ckpt") == [
        ("model/dense_1/b/.ATTRIBUTES/VARIABLE_VALUE", [3]),
        ("model/dense_1/w/.ATTRIBUTES/VARIABLE_VALUE", [3, 3]),
        ("model/dense_2/b/.ATTRIBUTES/VARIABLE_VALUE", [2]),
        ("model/dense_2/w/.ATTRIBUTES/VARIABLE_VALUE", [3, 2]),
        ("model/extra/0/.ATTRIBUTES/VARIABLE_VALUE", [])]
    fresh = Two()
    x = tf.constant([[2.0, 1.0, -1.0]])
    assert not np.allclose(fresh(x).numpy(), model(x).numpy())
    tf.train.Checkpoint(model=fresh).restore(tmp_path / "ckpt").assert_consumed()
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    np.testing.assert_array_equal(
        tf.train.load_variable(tmp_path / "ckpt", "model/dense_2/w/.ATTRIBUTES/VARIABLE_VALUE"),
        model.dense_2.w.numpy())


def test_restore_reports_what_did_not_match(tmp_path):
    tf.train.Checkpoint(model=Dense(2, 2)).write(tmp_path / "small")
    status = tf.train.Checkpoint(model=Two()).restore(tmp_path / "small")
    with pytest.raises(AssertionError, match="matched no Variable"):
        status.assert_consumed()
    with pytest.raises(ValueError, match="has shape"):
        tf.train.Checkpoint(model=Dense(3, 3)).restore(tmp_path / "small")


def test_save_numbers_the_files_and_keras_models_round_trip(tmp_path):
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    ckpt = tf.train.Checkpoint(model=model)
    first, second = ckpt.save(tmp_path / "k"), ckpt.save(tmp_path / "k")
    assert first.endswith("k-1.chainrule-ckpt") and second.endswith("k-2.chainrule-ckpt")
    other = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    tf.train.Checkpoint(model=other).restore(second).assert_consumed()
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
