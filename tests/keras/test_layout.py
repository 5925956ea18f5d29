"""How chainrule.keras is put together: every family resolves names through one kind of
registry, and the public names stay where Keras has them (the order its modules import one
another in is checked with the whole package's, in tests/test_imports.py)."""

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import callbacks, initializers, layers, losses, metrics, optimizers


def test_every_family_resolves_names_through_one_kind_of_registry():
    registries = [layers.REGISTRY, optimizers.REGISTRY, losses.REGISTRY, metrics.REGISTRY,
                  initializers.REGISTRY, keras.activations.REGISTRY, keras.regularizers.REGISTRY]
    assert len({type(r) for r in registries}) == 1
    assert {"Dense", "Sequential", "Functional"} <= set(layers.REGISTRY.classes)
    assert isinstance(optimizers.get({"class_name": "adam", "config": {}}), optimizers.Adam)
    dense = layers.Dense(3, kernel_initializer=initializers.HeNormal(seed=1))
    clone = layers.deserialize(layers.serialize(dense))
    assert isinstance(clone.kernel_initializer, initializers.HeNormal)
    assert clone.get_config() == dense.get_config()
    with pytest.raises(ValueError, match=r"Unknown layer class 'Foo'\. Known: .*Sequential.*"
                                         r"pass custom_objects=\{'Foo': Foo\}"):
        layers.deserialize({"class_name": "Foo", "config": {}})


def test_a_model_inside_a_model_saves_and_loads(tmp_path):
    inner = keras.Sequential([layers.Dense(4, activation="relu")], name="inner")
    model = keras.Sequential([keras.Input(shape=(3,)), inner, layers.Dense(2)])
    model.save(tmp_path / "nested.chainrule")
    loaded = keras.models.load_model(tmp_path / "nested.chainrule")
    assert isinstance(loaded.layers[0], keras.Sequential)
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_public_names_stay_where_keras_has_them():
    from chainrule.keras.callbacks import EarlyStopping, History, ModelCheckpoint  # noqa: F401
    from chainrule.keras.models import Model, Sequential, load_model  # noqa: F401
    from chainrule.keras.trainers import Trainer
    assert keras.Model is Model and keras.models.load_model is keras.saving.load_model
    assert issubclass(Model, Trainer) and issubclass(Model, layers.Layer)
    for name in callbacks.__all__:  # one module per callback, named after it
        module = getattr(callbacks, name).__module__
        assert module.startswith("chainrule.keras.callbacks."), (name, module)
