"""Saved models: round trips, atomic writes, damaged files, and a resumed fit."""

import io
import os
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.saving import SavedModelError

from ._helpers import blobs


def small_model(units=16, compiled=True):
    model = keras.Sequential([layers.Dense(units, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    if compiled:
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def trained_model():
    x, y = blobs()
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model, x, y


def test_round_trip_gives_identical_predictions_and_training_state(tmp_path):
    model, x, y = trained_model()
    path = tmp_path / "model.chainrule"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.Sequential)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    assert isinstance(loaded.optimizer, keras.optimizers.RMSprop)
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 20
    # Restored optimizer slots: one more identical step gives identical weights.
    model.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_file_is_a_zip_of_json_and_arrays(tmp_path):
    model, _, _ = trained_model()
    model.save(tmp_path / "m.chainrule")
    names = zipfile.ZipFile(tmp_path / "m.chainrule").namelist()
    assert names == ["config.json", "weights.npz", "optimizer.npz"]


def test_save_and_load_weights(tmp_path):
    model, x, _ = trained_model()
    model.save_weights(tmp_path / "w.chainrule")
    other = small_model(compiled=False)
    other.build((None, x.shape[1]))
    other.load_weights(tmp_path / "w.chainrule")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(SavedModelError, match="only weights"):
        keras.models.load_model(tmp_path / "w.chainrule")


def test_load_weights_into_a_different_architecture_says_which_weight(tmp_path):
    model, x, _ = trained_model()
    model.save(tmp_path / "m.chainrule")
    other = small_model(units=8, compiled=False)
    other.build((None, x.shape[1]))
    with pytest.raises(SavedModelError, match=r"'dense(_\d+)?/kernel' has shape \(4, 16\) in the file.*\(4, 8\)"):
        other.load_weights(tmp_path / "m.chainrule")
    deeper = keras.Sequential([layers.Dense(16), layers.Dense(16), layers.Dense(3)])
    deeper.build((None, x.shape[1]))
    with pytest.raises(SavedModelError, match="holds 4 weights arrays, but the model has 6"):
        deeper.load_weights(tmp_path / "m.chainrule")


def test_load_weights_into_an_unbuilt_model_says_to_build_it(tmp_path):
    model, _, _ = trained_model()
    model.save_weights(tmp_path / "w.chainrule")
    with pytest.raises(SavedModelError, match="build it first"):
        small_model().load_weights(tmp_path / "w.chainrule")


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    model, x, y = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    before = path.read_bytes()
    model.fit(x, y, epochs=1, verbose=0)  # the weights change

    original = zipfile.ZipFile.writestr

    def crash_after_config(self, name, data, *args, **kwargs):
        if name == "weights.npz":
            raise KeyboardInterrupt("killed mid-save")
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_after_config)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.chainrule"]  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign_zip", "bad_weights"])
def test_damaged_files_give_clear_errors(tmp_path, damage):
    model, _, _ = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a model at all" * 10)
    elif damage == "foreign_zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", '{"something": "else"}')
    else:
        with zipfile.ZipFile(path) as z:
            entries = {n: z.read(n) for n in z.namelist()}
        entries["weights.npz"] = entries["weights.npz"][:50]
        with zipfile.ZipFile(path, "w") as z:
            for n, d in entries.items():
                z.writestr(n, d)
    with pytest.raises(SavedModelError, match=str(path.name)):
        keras.models.load_model(path)


def test_loading_never_unpickles(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    evil = io.BytesIO()
    np.save(evil, np.array([object()], dtype=object), allow_pickle=True)
    weights = io.BytesIO()
    with zipfile.ZipFile(weights, "w") as z:
        for i in range(4):
            z.writestr(f"{i:04d}.npy", evil.getvalue())
    entries["weights.npz"] = weights.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)
    with pytest.raises(SavedModelError, match="damaged"):
        keras.models.load_model(path)


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = blobs()
    model = small_model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}.chainrule")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(pattern)])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.chainrule", "ckpt-02.chainrule"]
    reloaded = keras.models.load_model(tmp_path / "ckpt-02.chainrule")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


class KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.kill_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.kill_epoch:
            raise KeyboardInterrupt("the process was killed")


def test_killed_then_resumed_fit_ends_with_the_uninterrupted_weights(tmp_path):
    x, y = blobs(500)
    cr.random.set_seed(3)
    reference = small_model()
    reference.fit(x, y, epochs=5, batch_size=32, verbose=0)

    cr.random.set_seed(3)
    model = small_model()
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=32, verbose=0,
                  callbacks=[backup, KillAfterEpoch(2)])
    assert os.path.exists(backup.path)

    cr.random.set_seed(99)  # a fresh process: other weights, another seed
    resumed = small_model()
    history = resumed.fit(x, y, epochs=5, batch_size=32, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [3, 4]
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations)
    assert not os.path.exists(backup.path)  # a finished fit removes its backup


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = blobs()
    model = small_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2)
    path = history.plot(tmp_path / "curves.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
