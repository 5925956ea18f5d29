"""EarlyStopping, ReduceLROnPlateau, LambdaCallback, CSVLogger and TensorBoard, as Keras
documents them, and a custom callback that sees every hook."""

import csv
import math

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import callbacks, layers
from chainrule.keras.diagnostics import TrainingCheckWarning

from ._helpers import blobs


class FakeModel:
    """Just what the epoch-level callbacks touch: weights, stop_training, an optimizer."""

    def __init__(self):
        self.stop_training = False
        self.weights_now = [np.zeros(1)]
        self.optimizer = keras.optimizers.SGD(learning_rate=0.1)

    def get_weights(self):
        return [w.copy() for w in self.weights_now]

    def set_weights(self, values):
        self.weights_now = [np.array(v) for v in values]


def drive(cb, series, key="val_loss"):
    """Runs ``cb`` over scripted epoch values; returns the epochs it let run."""
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin({})
    ran = 0
    for epoch, value in enumerate(series):
        model.weights_now = [np.array([float(epoch)])]
        cb.on_epoch_end(epoch, {key: value})
        ran += 1
        if model.stop_training:
            break
    cb.on_train_end({})
    return ran, model


def classifier(optimizer="rmsprop"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# -- EarlyStopping -------------------------------------------------------------------------

def test_early_stopping_keras_doc_example():
    # Keras's own example: a diverging SGD run stops after 4 epochs with patience 3.
    callback = callbacks.EarlyStopping(monitor="loss", patience=3)
    model = keras.Sequential([layers.Dense(10)])
    model.compile(keras.optimizers.SGD(), loss="mse")
    # It diverges on purpose (NumPy kernels overflow), and fit's first-step check says why.
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.warns(TrainingCheckWarning, match="the learning rate 0.01 is too large"):
        history = model.fit(np.arange(100).reshape(5, 20), np.zeros(5), epochs=10,
                            batch_size=1, callbacks=[callback], verbose=0)
    assert len(history.history["loss"]) == 4


def test_early_stopping_patience_min_delta_and_restore():
    ran, _ = drive(callbacks.EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.96, 0.5])
    assert ran == 4
    # improvements smaller than min_delta do not count
    ran, _ = drive(callbacks.EarlyStopping(patience=1, min_delta=0.05), [1.0, 0.97, 0.96, 0.5])
    assert ran == 2
    ran, model = drive(callbacks.EarlyStopping(patience=2, restore_best_weights=True),
                       [1.0, 0.5, 0.7, 0.8, 0.9])
    assert ran == 4 and model.weights_now[0].tolist() == [1.0]  # epoch 1 was the best


def test_early_stopping_mode_and_baseline():
    # "auto" watches accuracies upwards
    ran, _ = drive(callbacks.EarlyStopping(monitor="val_accuracy", patience=1),
                   [0.5, 0.6, 0.55, 0.7], key="val_accuracy")
    assert ran == 3
    ran, _ = drive(callbacks.EarlyStopping(monitor="val_loss", mode="max", patience=1),
                   [0.5, 0.4, 0.6])
    assert ran == 2
    # without improvement on a baseline that is never beaten, it stops after `patience`
    ran, _ = drive(callbacks.EarlyStopping(patience=2, baseline=0.1), [1.0, 1.0, 1.0, 1.0])
    assert ran == 2
    ran, _ = drive(callbacks.EarlyStopping(patience=2), [1.0, 1.0, 1.0, 1.0])
    assert ran == 3  # the first epoch counts as an improvement over no value
    with pytest.raises(ValueError, match="mode must be"):
        callbacks.EarlyStopping(mode="up")


# -- ReduceLROnPlateau ----------------------------------------------------------------------

def test_reduce_lr_on_plateau_with_cooldown_and_min_lr():
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin({})
    rates = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        rates.append(round(float(model.optimizer.learning_rate), 6))
        assert "learning_rate" in logs
    # best at epoch 0; a cut at every second bad epoch (the cooldown epoch counts as
    # the first bad one again); never below min_lr
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_in_fit_records_the_rate():
    x, y = blobs(60)
    model = classifier(keras.optimizers.RMSprop(learning_rate=0.01))
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    history = model.fit(x, y, epochs=3, batch_size=20, verbose=0, callbacks=[cb])
    # min_delta=10 means no epoch counts as an improvement after the first; the logs hold
    # the rate each epoch ran with (read before the cut, as Keras does)
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0025)


# -- LambdaCallback and every hook --------------------------------------------------------

def test_lambda_callback_and_every_hook():
    x, y = blobs(40)
    model = classifier()
    seen = []
    hooks = {name: (lambda name: lambda *args: seen.append(name))(name)
             for name in callbacks.LambdaCallback._HOOKS}
    cb = callbacks.LambdaCallback(**hooks)
    model.fit(x, y, batch_size=20, epochs=2, verbose=0, validation_data=(x[:20], y[:20]),
              callbacks=[cb])
    model.evaluate(x, y, batch_size=40, verbose=0, callbacks=[cb])
    model.predict(x, batch_size=40, verbose=0, callbacks=[cb])
    assert seen[:4] == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                        "on_train_batch_end"]
    assert set(seen) == set(callbacks.LambdaCallback._HOOKS)
    assert seen.count("on_epoch_end") == 2 and seen.count("on_train_batch_end") == 4
    assert seen.count("on_test_begin") == 3  # two validations, one evaluate
    aliased = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append("alias"))
    aliased.on_train_batch_end(0, {})
    assert seen[-1] == "alias"
    with pytest.raises(TypeError, match="unknown hook 'on_banana'"):
        callbacks.LambdaCallback(on_banana=print)


def test_custom_callback_sees_logs_at_each_hook():
    x, y = blobs(40)
    model = classifier()

    class Watch(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.log = {}

        def __getattribute__(self, name):
            if name.startswith("on_"):
                log = object.__getattribute__(self, "log")
                return lambda *args: log.setdefault(name, []).append(args)
            return object.__getattribute__(self, name)

    watch = Watch()
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, validation_data=(x, y), callbacks=[watch])
    epoch, logs = watch.log["on_epoch_end"][0]
    assert epoch == 0 and sorted(logs) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert [args[0] for args in watch.log["on_train_batch_end"]] == [0, 1]
    assert sorted(watch.log["on_test_batch_end"][0][1]) == ["accuracy", "loss"]
    model.predict(x, batch_size=16, verbose=0, callbacks=[watch])
    outputs = [args[1]["outputs"].shape for args in watch.log["on_predict_batch_end"]]
    assert outputs == [(16, 3), (16, 3), (8, 3)]


# -- CSVLogger -----------------------------------------------------------------------------

def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    x, y = blobs(40)
    model = classifier()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, batch_size=20, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=[callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert [float(r["loss"]) for r in rows] == history.history["loss"]
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,")  # one header only
    model.fit(x, y, batch_size=20, epochs=1, verbose=0,
              callbacks=[callbacks.CSVLogger(path, separator=";")])
    with open(path) as f:
        assert f.read().splitlines()[0] == "epoch;accuracy;loss"


# -- TensorBoard ---------------------------------------------------------------------------

def read_scalars(directory):
    """What TensorBoard itself reads from a run folder: {tag: [(step, value)]}."""
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance={"scalars": 0,
                                                                           "histograms": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}, acc


def test_tensorboard_event_files_read_back_by_tensorboard(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = blobs(40)
    model = classifier()
    tb = callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq="batch")
    history = model.fit(x, y, batch_size=20, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[tb])
    train, acc = read_scalars(tmp_path / "train")
    assert [step for step, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_accuracy"]], history.history["accuracy"],
                               rtol=1e-6)
    assert [step for step, _ in train["batch_loss"]] == [1, 2, 3, 4, 5, 6]
    histograms = acc.Tags()["histograms"]
    assert any(tag.endswith("kernel/histogram") for tag in histograms)
    val, _ = read_scalars(tmp_path / "validation")
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], history.history["val_loss"], rtol=1e-6)
    assert "epoch_val_loss" not in val


# -- regularizers ----------------------------------------------------------------------------

def test_regularizer_values_and_configs():
    w = tf.constant([[1.0, -2.0], [3.0, 0.0]])
    assert float(keras.regularizers.l1(0.1)(w)) == pytest.approx(0.6)
    assert float(keras.regularizers.l2(0.1)(w)) == pytest.approx(1.4)
    assert float(keras.regularizers.l1_l2(l1=0.1, l2=0.1)(w)) == pytest.approx(2.0)
    assert float(keras.regularizers.L2()(w)) == pytest.approx(0.14)  # Keras's default 0.01
    assert keras.regularizers.get("l1").l1 == 0.01
    again = keras.regularizers.get(keras.regularizers.serialize(keras.regularizers.l1_l2(0.2, 0.3)))
    assert (again.l1, again.l2) == (0.2, 0.3)
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'"):
        keras.regularizers.get("l3")


@pytest.mark.parametrize("jit", [False, "auto"])
def test_dense_regularizers_add_their_penalty_to_the_loss(jit):
    x, y = blobs(40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.l2(0.01),
                     bias_regularizer="l1"),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=jit)
    model.build((None, 4))
    dense = model.layers[0]
    penalty = 0.01 * np.sum(dense.kernel.numpy() ** 2) + 0.01 * np.sum(np.abs(dense.bias.numpy()))
    assert len(model.losses) == 2
    plain = keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))
    evaluated = model.evaluate(x, y, batch_size=40, verbose=0)
    assert evaluated == pytest.approx(float(np.mean(plain)) + penalty, rel=1e-5)
    # the gradient includes the penalty: compare one step with a hand-made tape step
    w0 = model.get_weights()
    model.fit(x, y, batch_size=40, epochs=1, verbose=0, shuffle=False)
    model.set_weights(w0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x))) + \
            0.01 * tf.reduce_sum(tf.square(dense.kernel)) + 0.01 * tf.reduce_sum(tf.abs(dense.bias))
    grads = tape.gradient(loss, model.trainable_weights)
    expected = [w - 0.01 * g.numpy() for w, g in zip(w0, grads)]
    model.set_weights(w0)
    model.fit(x, y, batch_size=40, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    config = dense.get_config()
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}


def test_regularized_model_saves_and_loads(tmp_path):
    model = keras.Sequential([layers.Dense(2, kernel_regularizer=keras.regularizers.l1(0.5))])
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].kernel_regularizer.l1 == 0.5
    assert math.isclose(float(tf.add_n(loaded.losses)), float(tf.add_n(model.losses)), rel_tol=1e-6)
