"""chainrule ops applied to KerasTensors: each call records a TFOpLambda node, so a
functional model may use ``tf.reduce_mean``, ``tf.nn.relu``, arithmetic and indexing on
symbolic values, save and load them (by op name, from a fixed table), and add symbolic
losses and metrics (``model.add_loss(tf.reduce_mean(hidden))``)."""

import fractions
import json
import zipfile

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.layers import KerasTensor


def op_model():
    inputs = keras.Input(shape=(4,))
    h = layers.Dense(3, name="hidden")(inputs)
    mean = tf.reduce_mean(h, axis=1, keepdims=True)
    both = tf.concat([tf.nn.relu(h), 1.0 - tf.exp(-h)], axis=-1)
    out = 2.0 * both[:, 1:5] / (tf.abs(mean) + 1.0) - mean ** 2
    return keras.Model(inputs, out), lambda h: (
        2.0 * np.concatenate([np.maximum(h, 0), 1.0 - np.exp(-h)], -1)[:, 1:5]
        / (np.abs(h.mean(1, keepdims=True)) + 1.0) - h.mean(1, keepdims=True) ** 2)


def test_ops_on_symbolic_tensors_make_nodes_that_compute_the_ops():
    model, expected = op_model()
    assert model.output_shape == (None, 4)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("TFOpLambda") >= 8 and "tf.reduce_mean" in [l.name for l in model.layers]
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    h = model.get_layer("hidden")(x).numpy()
    np.testing.assert_allclose(model(x).numpy(), expected(h), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected(h), rtol=1e-5, atol=1e-6)


def test_a_model_of_ops_saves_and_loads_with_the_same_predictions(tmp_path):
    model, _ = op_model()
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    for name in ("m.keras", "m.chainrule"):
        model.save(tmp_path / name)
        again = keras.models.load_model(tmp_path / name)
        np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_loading_an_op_outside_the_table_is_refused(tmp_path):
    model, _ = op_model()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    text = json.dumps(config).replace('"function": "reduce_mean"', '"function": "os.system"')
    assert text != json.dumps(config)
    files["config.json"] = text.encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    with pytest.raises(ValueError, match="os.system"):
        keras.models.load_model(tmp_path / "bad.keras")
    with pytest.raises(ValueError, match="not an op"):
        layers.TFOpLambda("eval")


def test_symbolic_add_loss_and_add_metric_are_computed_on_each_call():
    inputs = keras.Input(shape=(4,))
    h = layers.Dense(6, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(1)(h))
    model.add_loss(tf.reduce_sum(h) * 0.01)
    model.add_metric(tf.reduce_mean(h), name="mean_h")
    x = np.random.default_rng(2).normal(size=(8, 4)).astype("float32")
    hv = model.layers[1](x).numpy()
    model(x)  # (the losses are those of the last outermost call)
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.losses[0].numpy(), hv.sum() * 0.01, rtol=1e-5)
    model.compile("sgd", "mse")
    history = model.fit(x, np.zeros((8, 1), "float32"), epochs=2, batch_size=4, verbose=0)
    assert "mean_h" in history.history and len(history.history["mean_h"]) == 2
    other = keras.Input(shape=(4,))
    with pytest.raises(ValueError, match="disconnected"):
        model.add_loss(tf.reduce_mean(layers.Dense(2)(other)))


def test_eager_errors_and_refused_conversions_stay_as_they_were():
    with pytest.raises(TypeError):
        tf.exp("text")  # no symbolic value: the op's own error
    kt = keras.Input(shape=(2,))
    for convert in (np.asarray, bool, float):
        with pytest.raises(TypeError, match="symbolic"):
            convert(kt)
    assert isinstance(tf.reduce_max(kt, axis=1), KerasTensor)


def test_constants_and_dtypes_are_saved_and_other_arguments_named(tmp_path):
    inputs = keras.Input(shape=(3,))
    scaled = tf.multiply(inputs, tf.constant([1.0, 2.0, 3.0]))  # a tensor constant
    out = tf.cast(tf.cast(scaled, np.float16), "float32")
    model = keras.Model(inputs, out)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(np.ones((1, 3), "float32")).numpy(), [[1, 2, 3]])
    odd = keras.Model(inputs, tf.multiply(inputs, fractions.Fraction(1, 2)))
    np.testing.assert_allclose(odd(np.ones((1, 3), "float32")).numpy(), [[0.5] * 3])
    with pytest.raises(TypeError, match="tf.multiply.*Fraction"):
        odd.save(tmp_path / "odd.chainrule")
