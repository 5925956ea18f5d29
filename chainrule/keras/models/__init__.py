"""``keras.models``: Model, Sequential, and loading saved models."""

from ..saving import load_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Functional", "Sequential", "load_model"]
