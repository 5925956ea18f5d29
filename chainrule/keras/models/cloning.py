"""``keras.models.model_from_json`` and ``clone_model``: a model rebuilt from its
configuration, with new weights.

A JSON string is untrusted input: it is parsed as data, and a class it names is looked up in
the layer registry (``custom_objects`` adds your own), never imported."""

import json

from ..layers import deserialize, serialize

__all__ = ["clone_model", "model_from_json"]


def model_from_json(json_string, custom_objects=None):
    """The model ``model.to_json()`` described, with newly initialised weights."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_from_json: not a JSON model description ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("model_from_json: expected an object with 'class_name' and 'config' "
                         "(what model.to_json() writes)")
    return deserialize(config, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model of the same architecture, with new layers and newly initialised weights
    (Keras's ``clone_model``: weights are not copied; ``set_weights`` does that)."""
    if input_tensors is not None or clone_function is not None or call_function is not None:
        raise NotImplementedError("clone_model: input_tensors, clone_function and "
                                  "call_function are not supported by chainrule yet")
    return deserialize(serialize(model))
