"""A TensorFlow or Keras name chainrule does not have yet says so, and lists what there is,
instead of Python's bare AttributeError."""

import pytest

import chainrule as tf
from chainrule.errors import MissingNameError
from chainrule.keras import layers


@pytest.mark.parametrize("name", ["LSTM", "GRU", "Bidirectional", "StringLookup"])
def test_a_keras_layer_chainrule_lacks(name):
    with pytest.raises(AttributeError) as info:
        getattr(layers, name)
    message = str(info.value)
    assert isinstance(info.value, MissingNameError)
    assert f"{name!r} is a Keras layer that chainrule does not have yet" in message
    assert "Dense" in message and "Dropout" in message  # what exists


def test_a_name_keras_does_not_have_either():
    with pytest.raises(AttributeError, match="has no attribute 'Dens'. Did you mean 'Dense'"):
        layers.Dens  # noqa: B018
    assert not hasattr(layers, "LSTM") and hasattr(layers, "Dense")


@pytest.mark.parametrize("name", ["ragged", "tile", "map_fn", "scan"])
def test_a_tensorflow_name_chainrule_lacks(name):
    with pytest.raises(AttributeError, match=f"{name!r} is a TensorFlow name that chainrule "
                                             f"does not have yet") as info:
        getattr(tf, name)
    assert "GradientTape" in str(info.value) and "keras" in str(info.value)


def test_the_lazy_subpackages_and_unknown_names():
    assert tf.keras.layers is layers
    with pytest.raises(AttributeError, match="module 'chainrule' has no attribute 'foo'"):
        tf.foo  # noqa: B018
