"""ModelCheckpoint: Keras's options, and no checkpoint skipped in silence."""

import os
import warnings

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import callbacks, layers
from chainrule.keras.saving import SavedModelError

from ._helpers import blobs


def classifier():
    model = keras.Sequential([layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class BatchCounter(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_save_best_only_without_validation_warns_once_naming_monitor_and_keys(tmp_path):
    x, y = blobs()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "best.chainrule", save_best_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.utils.set_random_seed(0)
        classifier().fit(x, y, epochs=3, verbose=0, callbacks=[checkpoint])
    messages = [str(w.message) for w in caught if "ModelCheckpoint" in str(w.message)]
    assert messages == [
        "ModelCheckpoint: save_best_only=True monitors 'val_loss', which this fit does not log "
        "(available: accuracy, loss); no checkpoint will be saved; val_ values need "
        "fit(..., validation_data=(x, y)) or validation_split, or pick another monitor"]
    assert os.listdir(tmp_path) == []


def test_save_best_only_with_validation_saves_only_improvements(tmp_path, capsys):
    x, y = blobs()
    path = tmp_path / "best.chainrule"
    checkpoint = callbacks.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True,
                                           verbose=1)
    assert checkpoint.mode == "max"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        history = classifier().fit(x, y, epochs=4, verbose=0, validation_split=0.2,
                                   callbacks=[checkpoint])
    accuracies = history.history["val_accuracy"]
    assert checkpoint.best == max(accuracies)
    out = capsys.readouterr().out
    assert out.count("saving model to") == sum(
        a > max(accuracies[:i], default=-np.inf) for i, a in enumerate(accuracies))
    assert f"Epoch 1: val_accuracy improved from -inf to {accuracies[0]:.5f}" in out
    assert os.listdir(tmp_path) == ["best.chainrule"]


def test_missing_filepath_fields_are_an_error_after_the_first_batch(tmp_path):
    x, y = blobs(320)
    counter = BatchCounter()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch}-{val_loss:.2f}.keras"))
    with pytest.raises(ValueError) as info:
        classifier().fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[counter, checkpoint])
    assert str(info.value) == (
        f"ModelCheckpoint: filepath '{tmp_path}/ck-{{epoch}}-{{val_loss:.2f}}.keras' uses "
        f"{{val_loss}}, which this fit does not log (it logs: accuracy, epoch, loss); val_ values "
        f"need fit(..., validation_data=(x, y)) or validation_split")
    assert counter.batches == 1  # not a whole epoch later
    assert os.listdir(tmp_path) == []


def test_filepath_fields_from_epoch_and_validation_logs(tmp_path):
    x, y = blobs()
    pattern = str(tmp_path / "ck-{epoch:02d}-{val_loss:.3f}.chainrule")
    history = classifier().fit(x, y, epochs=2, verbose=0, validation_split=0.2,
                               callbacks=[callbacks.ModelCheckpoint(pattern)])
    expected = [f"ck-{e + 1:02d}-{v:.3f}.chainrule"
                for e, v in enumerate(history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path)) == expected
    with pytest.raises(ValueError, match=r"positional field \{\}"):
        callbacks.ModelCheckpoint("ck-{}.keras")


def test_save_freq_in_batches_with_batch_field_and_weights_only(tmp_path):
    x, y = blobs(320)  # 10 batches of 32 per epoch
    model = classifier()
    pattern = str(tmp_path / "w-{epoch}-{batch}.chainrule")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(pattern, save_freq=4, save_weights_only=True)])
    # Every 4th batch, counted across epochs: batches 4, 8 of epoch 1, then 2, 6, 10 of epoch 2.
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["w-1-4.chainrule", "w-1-8.chainrule", "w-2-2.chainrule", "w-2-6.chainrule",
         "w-2-10.chainrule"])
    with pytest.raises(SavedModelError, match="holds only weights"):
        keras.models.load_model(tmp_path / "w-2-10.chainrule")  # weights only
    with pytest.raises(ValueError, match="save_freq=4 a checkpoint is written mid-epoch"):
        model.fit(x, y, epochs=1, verbose=0, validation_split=0.2, callbacks=[
            callbacks.ModelCheckpoint(str(tmp_path / "{val_loss}.chainrule"), save_freq=4)])
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive number"):
        callbacks.ModelCheckpoint(pattern, save_freq="batch")


def test_initial_value_threshold_and_mode(tmp_path):
    x, y = blobs()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "m.chainrule", monitor="loss",
                                           save_best_only=True, initial_value_threshold=1e-9)
    assert checkpoint.mode == "min"
    classifier().fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint])
    assert os.listdir(tmp_path) == []  # no epoch beat the threshold
    with pytest.warns(UserWarning, match="mode 'biggest' is not 'auto', 'min' or 'max'"):
        assert callbacks.ModelCheckpoint("m.keras", monitor="val_auc", mode="biggest").mode == "max"
