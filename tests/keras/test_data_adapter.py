"""fit, evaluate and predict on chainrule.data.Dataset: the same numbers as on arrays."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers


def make_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1)
    return x, y


def make_model(jit):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit)
    return model


@pytest.mark.parametrize("jit", [False, "auto"])
def test_fit_on_a_dataset_equals_fit_on_arrays(jit):
    x, y = make_data()
    xv, yv = make_data(40, seed=1)
    a = make_model(jit)
    ha = a.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_data=(xv, yv), verbose=0)
    b = make_model(jit)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
    hb = b.fit(train, epochs=3, validation_data=val, verbose=0)
    assert sorted(hb.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in ha.history:
        # validation batches differ (32 vs the default 32 of arrays: same), training is equal
        np.testing.assert_allclose(hb.history[key], ha.history[key], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert np.allclose(a.evaluate(x, y, verbose=0), b.evaluate(train, verbose=0), rtol=1e-6)
    predicted = b.predict(tf.data.Dataset.from_tensor_slices(x).batch(10), verbose=0)
    assert predicted.shape == (96, 3)
    np.testing.assert_allclose(predicted, a.predict(x, verbose=0), rtol=1e-6)
    # (x, y) elements are accepted by predict too (the targets are ignored)
    np.testing.assert_allclose(b.predict(train, verbose=0), predicted, rtol=1e-6)


def test_a_shuffled_dataset_trains_and_reshuffles_each_epoch():
    x, y = make_data()
    model = make_model("auto")
    seen = []
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96, seed=2).batch(32) \
        .map(lambda xb, yb: (xb, yb))

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                seen.append(logs["loss"])

    history = model.fit(ds, epochs=4, verbose=0, callbacks=[FirstBatch()])
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(seen) == 4


@pytest.mark.time_limit(60)  # it hands fit an endless Dataset
def test_dataset_errors():
    x, y = make_data()
    model = make_model(False)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="batch_size must not be given when x is a Dataset"):
        model.fit(ds, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="y must not be given"):
        model.fit(ds, y, verbose=0)
    with pytest.raises(ValueError, match="the Dataset is infinite"):
        model.fit(ds.repeat(), verbose=0)
    with pytest.raises(ValueError, match="validation_split is not supported"):
        model.fit(ds, validation_split=0.2, verbose=0)
    # x alone reaches the step, as in Keras; a compiled loss then says it lacks targets
    with pytest.raises(ValueError, match=r"the data has no targets \(y is None\)"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    with pytest.raises(ValueError, match=r"must be an \(x, y\) pair"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y, y, y)).batch(8), verbose=0)


def test_unknown_cardinality_is_counted():
    x, y = make_data()
    model = make_model(False)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: b < 2).batch(16)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
