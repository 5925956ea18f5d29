"""Keras's other names for files and models: what Keras 3 would write as HDF5 or a
SavedModel is refused with words that say what to use, never written in chainrule's layout
under Keras's extension; ``to_json``/``model_from_json``, ``clone_model`` and
``get_config``/``from_config`` rebuild the architecture."""

import json

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers


def small_model():
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dropout(0.1),
                              layers.Dense(2, activation="softmax")])
    model.build((None, 3))
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


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5", "w"])
def test_save_weights_refuses_hdf5_names(tmp_path, name):
    with pytest.raises(ValueError, match="must end in `.chainrule`"):
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
