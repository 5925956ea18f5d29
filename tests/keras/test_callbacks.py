"""Callbacks (hook order, History, TerminateOnNaN, EarlyStopping, ModelCheckpoint) and
the progress output, on a terminal and in logs."""

import io
import re

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import callbacks, layers, optimizers
from chainrule.keras.utils.progbar import Progbar, format_eta, format_step_time, format_value

from ._helpers import blobs


def classifier(optimizer="rmsprop"):
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append(name)
        return object.__getattribute__(self, name)


def test_hook_order_in_fit_evaluate_predict():
    x, y = blobs(40)
    model = classifier()
    rec = Recorder()
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, validation_data=(x[:20], y[:20]),
              callbacks=[rec])
    assert rec.calls == [
        "on_train_begin", "on_epoch_begin",
        "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin", "on_train_batch_end",
        "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
        "on_epoch_end", "on_train_end"]
    assert rec.params == {"verbose": 0, "epochs": 1, "steps": 2}
    rec.calls.clear()
    model.evaluate(x, y, batch_size=40, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end"]
    rec.calls.clear()
    model.predict(x, batch_size=40, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                         "on_predict_end"]


def test_terminate_on_nan_stops_at_the_bad_batch():
    x, y = blobs(100)
    x[35] = np.nan  # in batch 3 of 10-sample batches
    model = classifier()
    steps = []

    class Count(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    stream = io.StringIO()
    stop = callbacks.TerminateOnNaN(stream=stream)
    history = model.fit(x, y, batch_size=10, epochs=5, shuffle=False, verbose=0,
                        callbacks=[stop, Count()])
    assert steps == [0, 1, 2, 3]
    assert stop.stopped_at == (0, 3)
    assert "Batch 3: Invalid loss" in stream.getvalue()
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])


def test_early_stopping_waits_for_patience_then_restores():
    x, y = blobs(60)
    model = classifier(optimizers.SGD(learning_rate=0.0))  # the loss never improves
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 3 and stopper.stopped_epoch == 2

    class Fake:
        def __init__(self):
            self.weights, self.stop_training = [np.array([0.0])], False

        def get_weights(self):
            return [w.copy() for w in self.weights]

        def set_weights(self, values):
            self.weights = values

    fake = Fake()
    es = callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    assert es.mode == "max"
    es.set_model(fake)
    es.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.7, 0.6, 0.65]):
        fake.weights = [np.array([float(epoch)])]
        es.on_epoch_end(epoch, {"val_accuracy": acc})
        if fake.stop_training:
            break
    assert epoch == 2 and es.best == 0.7
    es.on_train_end()
    assert fake.weights[0][0] == 1.0  # the weights of epoch 1, the best


def test_model_checkpoint_calls_model_save():
    x, y = blobs(40)

    class Saving(keras.Sequential):
        saved = []

        def save(self, path):
            self.saved.append(path)

    model = Saving([layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[callbacks.ModelCheckpoint("ckpt-{epoch:02d}-{loss:.1f}.keras",
                                                   monitor="loss")])
    assert len(Saving.saved) == 2 and Saving.saved[0].startswith("ckpt-01-")
    with pytest.raises(TypeError, match="save_weights"):
        callbacks.ModelCheckpoint("w.h5", save_weights_only=True).set_model(object())


LINE = re.compile(r"^\d+/\d+ ━{20} \d+s \d+(s|ms|us)/step( - [a-z_]+: [0-9.e+-]+)*$")


def test_fit_output_in_a_log_is_whole_lines(capsys):
    x, y = blobs(64)
    classifier().fit(x, y, batch_size=16, epochs=2)
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert LINE.match(lines[1]) and lines[1].startswith("4/4 ")
    assert re.search(r" - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", lines[1])  # sorted by name


def test_single_epoch_has_no_epoch_line_and_verbose_2_is_one_line(capsys):
    x, y = blobs(64)
    model = classifier()
    model.fit(x, y, batch_size=16, epochs=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and LINE.match(out[0])
    model.fit(x, y, batch_size=16, epochs=2, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2"
    assert re.match(r"^3/3 - \d+s - \d+(s|ms|us)/step - accuracy: [\d.]+ - loss: [\d.]+ - "
                    r"val_accuracy: [\d.]+ - val_loss: [\d.]+$", lines[1])
    model.fit(x, y, epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_print_one_line(capsys):
    x, y = blobs(64)
    model = classifier()
    model.evaluate(x, y)
    model.predict(x[:5])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("2/2 ━") and lines[1].startswith("1/1 ━")
    assert " - accuracy: " in lines[0] and " - " not in lines[1].split("/step")[1]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_display_redraws_in_place_with_colours():
    stream = FakeTerminal()
    bar = Progbar(10, stream=stream, interval=0.0)
    for step in range(1, 11):
        bar.update(step, [("loss", 0.5)])
    out = stream.getvalue()
    assert out.count("\r") == 10 and out.endswith("\n") and out.count("\n") == 1
    assert "\x1b[32m" in out and "\x1b[1m" in out  # green bar, bold counter
    assert "10/10" in out and "loss: 0.5000" in out


def test_formatting_helpers():
    assert format_value(0.26061) == "0.2606" and format_value(0.0001234) == "1.2340e-04"
    assert format_step_time(0.004) == "4ms/step" and format_step_time(2.0) == "2s/step"
    assert format_step_time(3e-5) == "30us/step"
    assert format_eta(5) == "5s" and format_eta(75) == "1:15" and format_eta(3725) == "1:02:05"
