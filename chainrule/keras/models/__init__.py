"""``keras.models``: Model, Sequential, and loading saved models.

Sequential and Functional are registered as layers (``keras.layers.REGISTRY``): a model can
hold another, and ``load_model`` finds them by their class names there."""

from ..layers import REGISTRY as _LAYERS
from ..saving import load_model
from .cloning import clone_model, model_from_json
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Functional", "Sequential", "clone_model", "load_model", "model_from_json"]

for _cls in (Functional, Sequential):
    _LAYERS.register(_cls)
