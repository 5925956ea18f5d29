"""Keras's other names for files and models: what Keras 3 would write as HDF5 or a
SavedModel is refused with words that say what to use, never written in chainrule's layout
under Keras's extension; ``to_json``/``model_from_json``, ``clone_model`` and
``get_config``/``from_config`` rebuild the architecture."""

import json
import os

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.saving import SavedModelError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


# The models of fixtures/make_keras_weights.py, which wrote the Keras 3 fixtures.
def small_model():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu"),
                              layers.Dropout(0.1), layers.Dense(2, activation="softmax")])
    return model


def functional_model():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    joined = layers.Concatenate()([layers.Dense(4, activation="tanh")(a), b])
    return keras.Model([a, b], [layers.Dense(1, name="out1")(joined),
                                layers.Dense(2, activation="softmax", name="out2")(joined)])


@pytest.mark.parametrize("name, words", [
    ("m.h5", "legacy HDF5 model files"), ("m.hdf5", "legacy HDF5 model files"),
    ("saved_dir", "Invalid filepath extension for saving"), ("m.npz", "Invalid filepath")])
def test_save_refuses_keras_names_it_cannot_write(tmp_path, name, words):
    with pytest.raises(ValueError, match=words) as error:
        small_model().save(tmp_path / name)
    assert ".chainrule" in str(error.value) and not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["w.h5", "w", "w.npz"])
def test_save_weights_names_the_two_files_it_writes(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in `.weights.h5` .* or `.chainrule`"):
        small_model().save_weights(tmp_path / name)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("make", [small_model, functional_model])
def test_json_and_config_round_trips(make):
    model = make()
    for rebuilt in (keras.models.model_from_json(model.to_json()),
                    type(model).from_config(model.get_config()),
                    keras.models.clone_model(model)):
        assert type(rebuilt) is type(model)
        assert rebuilt.to_json() == model.to_json()
        assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]
        assert all(a is not b for a, b in zip(rebuilt.weights, model.weights))
    assert json.loads(model.to_json(indent=2))["class_name"] == type(model).__name__


def test_clone_model_gives_new_weights_of_the_same_model():
    model = small_model()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((5, 3), np.float32)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_from_json_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="not a JSON model description"):
        keras.models.model_from_json("{not json")
    with pytest.raises(ValueError, match="'class_name' and 'config'"):
        keras.models.model_from_json("[1, 2]")
    with pytest.raises(ValueError, match="os.system|Unknown|unknown"):
        keras.models.model_from_json(json.dumps({"class_name": "os.system", "config": {}}))


def fixture_inputs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 2)).astype("float32")


def predictions(sequential, functional):
    x, y = fixture_inputs()
    return {"sequential": sequential.predict(x, verbose=0).tolist(),
            "functional": [o.tolist() for o in functional.predict([x, y], verbose=0)]}


def assert_predicts_what_keras_printed(sequential, functional):
    with open(os.path.join(FIXTURES, "keras_predictions.json")) as f:
        keras_printed = json.load(f)
    got = predictions(sequential, functional)
    np.testing.assert_allclose(got["sequential"], keras_printed["sequential"], rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(got["functional"], keras_printed["functional"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_weights_that_keras_wrote_predict_what_keras_printed():
    pytest.importorskip("h5py")
    sequential, functional = small_model(), functional_model()
    sequential.load_weights(os.path.join(FIXTURES, "sequential.weights.h5"))
    functional.load_weights(os.path.join(FIXTURES, "functional.weights.h5"))
    assert_predicts_what_keras_printed(sequential, functional)


def h5_layout(path):
    h5py = pytest.importorskip("h5py")
    found = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: found.__setitem__(
            name, (sorted(obj.attrs), getattr(obj, "shape", None), str(getattr(obj, "dtype", "")))))
    return found  # (the layers' names, in "name" attributes, depend on what else was made)


@pytest.mark.parametrize("make, fixture", [(small_model, "sequential.weights.h5"),
                                           (functional_model, "functional.weights.h5")])
def test_chainrule_writes_keras_layout(tmp_path, make, fixture):
    model = make()
    path = tmp_path / fixture
    model.save_weights(path)
    assert h5_layout(path) == h5_layout(os.path.join(FIXTURES, fixture))
    again = make()
    again.load_weights(path)
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_files_for_the_keras_check(tmp_path):
    """Writes what ``make_keras_weights.py --check DIR`` loads into Keras 3 (DIR from
    CHAINRULE_KERAS_CHECK_DIR; a temporary folder otherwise)."""
    pytest.importorskip("h5py")
    folder = os.environ.get("CHAINRULE_KERAS_CHECK_DIR") or str(tmp_path)
    sequential, functional = small_model(), functional_model()
    sequential.save_weights(os.path.join(folder, "sequential.weights.h5"))
    functional.save_weights(os.path.join(folder, "functional.weights.h5"))
    with open(os.path.join(folder, "chainrule_predictions.json"), "w") as f:
        json.dump(predictions(sequential, functional), f)
    assert sorted(os.listdir(folder))[-2:] == ["functional.weights.h5", "sequential.weights.h5"]


def test_damaged_or_hostile_weights_files_are_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    model = small_model()
    good = tmp_path / "good.weights.h5"
    model.save_weights(good)
    data = good.read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.weights.h5").write_text("not hdf5")
    with pytest.raises(SavedModelError, match="not an HDF5 weights file"):
        model.load_weights(tmp_path / "cut.weights.h5")
    with pytest.raises(SavedModelError, match="not an HDF5 weights file"):
        model.load_weights(tmp_path / "text.weights.h5")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "none.weights.h5")
    with pytest.raises(SavedModelError, match="does not fit model"):
        functional_model().load_weights(good)
    before = model.get_weights()
    with h5py.File(good, "a") as f:  # a kernel of the wrong shape
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars/0"] = np.zeros((4, 3), np.float32)
    with pytest.raises(SavedModelError, match=r"layers/dense_1/vars/0 .* does not fit"):
        model.load_weights(good)
    for a, b in zip(model.get_weights(), before):  # nothing was changed
        np.testing.assert_array_equal(a, b)
    with h5py.File(good, "a") as f:  # a link to another file
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars/0"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
    with pytest.raises(SavedModelError, match="is a link"):
        model.load_weights(good)


def test_keras_files_that_keras_wrote_load_and_predict_what_keras_printed():
    pytest.importorskip("h5py")
    sequential = keras.models.load_model(os.path.join(FIXTURES, "sequential.keras"))
    functional = keras.models.load_model(os.path.join(FIXTURES, "functional.keras"))
    assert [type(layer).__name__ for layer in sequential.layers] == ["Dense", "Dropout", "Dense"]
    assert functional.input_names == ["a", "b"] and functional.output_names == ["out1", "out2"]
    assert_predicts_what_keras_printed(sequential, functional)
    # compiled as Keras saved it, and it trains
    assert type(sequential.optimizer).__name__ == "RMSprop"
    assert np.isclose(float(sequential.optimizer.learning_rate), 0.01)
    x, y = fixture_inputs()
    sequential.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    functional.fit([x, y], [x[:, :1], np.eye(2, dtype="float32")[[0, 1, 1, 0]]], epochs=1,
                   verbose=0)


def rewritten(tmp_path, source, change):
    """A copy of a .keras fixture whose config.json ``change`` edits."""
    import zipfile
    target = tmp_path / "changed.keras"
    with zipfile.ZipFile(os.path.join(FIXTURES, source)) as old, \
            zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "config.json":
                data = json.dumps(change(json.loads(data))).encode()
            new.writestr(name, data)
    return target


def test_hostile_or_damaged_keras_files_are_refused(tmp_path):
    pytest.importorskip("h5py")

    def foreign_class(config):
        config["config"]["layers"][1]["class_name"] = "os.system"
        return config

    def an_option_chainrule_lacks(config):
        config["config"]["layers"][1]["config"]["lora_rank"] = 4
        return config

    with pytest.raises(SavedModelError, match="'os.system' is not one chainrule has"):
        keras.models.load_model(rewritten(tmp_path, "sequential.keras", foreign_class))
    with pytest.raises(SavedModelError, match="lora_rank"):
        keras.models.load_model(rewritten(tmp_path, "sequential.keras", an_option_chainrule_lacks))
    def huge(config):  # 1.2 GB of kernel, from a file of 20 kB: refused before allocating
        config["config"]["layers"][1]["config"]["units"] = 10 ** 8
        return config

    with pytest.raises(SavedModelError, match="makes more weights than model.weights.h5 holds"):
        keras.models.load_model(rewritten(tmp_path, "sequential.keras", huge))
    with open(os.path.join(FIXTURES, "sequential.keras"), "rb") as f:
        data = f.read()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(SavedModelError):
        keras.models.load_model(tmp_path / "cut.keras")


# -- the .keras files chainrule writes -------------------------------------------------------

def trained(make=small_model, optimizer="adam"):
    keras.utils.set_random_seed(0)
    model = make()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    x, _ = fixture_inputs()
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, batch_size=2, verbose=0)
    return model


def test_what_keras_cannot_rebuild_is_refused_naming_the_own_format(tmp_path):
    pytest.importorskip("h5py")
    from chainrule.keras.keras_files import KerasFormatError

    class Scale(layers.Layer):  # a class of one's own
        def call(self, inputs):
            return inputs * 2.0

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    class MySGD(keras.optimizers.SGD):
        pass

    def doubled(x):
        return x * 2.0

    custom = keras.Sequential([keras.Input((3,)), layers.Dense(2), Scale()])
    own_activation = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation=doubled)])
    subclassed = Subclassed()
    subclassed(np.zeros((1, 3), "float32"))
    own_optimizer = trained(optimizer=MySGD(0.1, momentum=0.9))
    for model, words in [(custom, "its layer 'scale' is a Scale, a class of your own"),
                         (subclassed, "it is a Subclassed \\(a subclassed model\\)"),
                         (own_activation, "layer 'dense_.*' uses the activation 'doubled', a "
                                          "function of your own"),
                         (own_optimizer, r"MySGD \(in its compile settings\) is not one of "
                                         "the Keras classes chainrule has")]:
        with pytest.raises(KerasFormatError, match=words) as error:
            model.save(tmp_path / "m.keras")
        assert "Save it as 'name.chainrule' (chainrule's own format" in str(error.value)
        assert isinstance(error.value, ValueError) and not list(tmp_path.iterdir())
    custom.save(tmp_path / "m.chainrule")  # chainrule's own format holds it
    loaded = keras.models.load_model(tmp_path / "m.chainrule", custom_objects={"Scale": Scale})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), custom.predict(x, verbose=0))


def test_load_model_reads_a_files_content_not_its_name(tmp_path):
    pytest.importorskip("h5py")
    model = trained()
    x, _ = fixture_inputs()
    model.save(tmp_path / "own.chainrule")
    model.save(tmp_path / "theirs.keras")
    (tmp_path / "own.chainrule").rename(tmp_path / "own.keras")  # an older chainrule's .keras
    (tmp_path / "theirs.keras").rename(tmp_path / "theirs.chainrule")
    for name in ("own.keras", "theirs.chainrule"):
        loaded = keras.models.load_model(tmp_path / name)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        fresh = small_model()  # the weights alone, as Keras's load_weights reads a .keras
        fresh.load_weights(tmp_path / name)
        np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def with_weights_file(path, change):
    """Rewrites the model.weights.h5 inside the .keras file ``path``: ``change(f)`` edits the
    open HDF5 file."""
    import io
    import zipfile
    h5py = pytest.importorskip("h5py")
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        change(f)
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_a_damaged_or_hostile_optimizer_state_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    good = tmp_path / "good.keras"
    trained().save(good)

    def copy(name):
        target = tmp_path / name
        target.write_bytes(good.read_bytes())
        return target

    def drop(f):
        del f["optimizer/vars/3"]

    def extra(f):
        f["optimizer/vars/10"] = np.zeros(3, "float32")

    def reshaped(f):
        del f["optimizer/vars/2"]
        f["optimizer/vars/2"] = np.zeros((4, 3), "float32")

    def text(f):
        del f["optimizer/vars/0"]
        f["optimizer/vars/0"] = "forty-two"

    def outside(f):
        del f["optimizer/vars/2"]
        f["optimizer/vars/2"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")

    def another_group(f):
        f.create_group("optimizer/extra")

    for change, words in [(drop, "optimizer group is malformed"),
                          (extra, "holds 11 arrays, but the Adam of this model keeps 10"),
                          (reshaped, r"optimizer/vars/2 \(float32 \(4, 3\)\) does not fit"),
                          (text, "optimizer/vars/0 .* does not fit"),
                          (outside, "is a link"),
                          (another_group, "optimizer group is malformed")]:
        path = with_weights_file(copy(f"{change.__name__}.keras"), change)
        with pytest.raises(SavedModelError, match=words) as error:
            keras.models.load_model(path)
        assert str(error.value).startswith(str(path))

    def fewer(f):  # a whole, consistent state of another optimizer (no slots)
        for i in range(2, len(f["optimizer/vars"])):
            del f[f"optimizer/vars/{i}"]
        del f["optimizer/vars/1"]

    with pytest.raises(SavedModelError, match="its optimizer state holds 1 arrays, but the Adam "
                                              "of this model keeps 2"):
        keras.models.load_model(with_weights_file(copy("fewer.keras"), fewer))
    # Saved before the first step (as Keras writes it then): the counter and rate, no slots.
    fresh = small_model()
    fresh.compile(optimizer="adam", loss="mse")
    fresh.save(tmp_path / "fresh.keras")
    assert len(keras.models.load_model(tmp_path / "fresh.keras").optimizer.variables) == 2


def test_damaged_keras_files_chainrule_wrote_are_refused(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    good = tmp_path / "good.keras"
    trained().save(good)
    data = good.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        (tmp_path / "cut.keras").write_bytes(data[:cut])
        with pytest.raises(SavedModelError) as error:
            keras.models.load_model(tmp_path / "cut.keras")
        assert str(error.value).startswith(str(tmp_path / "cut.keras"))
    from chainrule.keras import keras_files
    monkeypatch.setattr(keras_files, "weight_limit", lambda: 1000)
    with pytest.raises(SavedModelError, match="its weights unpack to .* more than this loader "
                                              "allows \\(1,000\\)"):
        keras.models.load_model(good)


def test_an_onnx_or_hdf5_file_given_to_load_model_says_what_it_is(tmp_path):
    pytest.importorskip("onnx")
    model = small_model()
    model.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(SavedModelError, match="looks like an ONNX model: chainrule writes "
                                              "those for serving"):
        keras.models.load_model(tmp_path / "m.onnx")
    with pytest.raises(SavedModelError, match="it is HDF5: .*model.load_weights"):
        keras.models.load_model(os.path.join(FIXTURES, "sequential.weights.h5"))
