"""``chainrule.keras``: the Keras API on chainrule's tensors and gradient tape.

``from chainrule import keras`` and ``from chainrule.keras import layers`` give the names
chapter 2 of *Deep Learning with Python* uses: ``keras.Sequential``, ``layers.Dense``,
``model.compile/fit/evaluate/predict``, ``keras.losses``, ``keras.optimizers``...

``keras.datasets`` is a subpackage of its own, imported on first use.

The modules depend one way, each only on those before it: the families resolved by name
(activations, initializers, regularizers, constraints, losses, metrics, optimizers;
``_registry`` holds their :class:`~chainrule.keras._registry.Registry`) with ``ops`` and ``random`` (Keras 3's
op and random namespaces over chainrule's), then ``layers``, ``saving`` (a function
of any model, which finds model classes in the layer registry), ``callbacks``,
``diagnostics`` and ``distribute``, ``trainers`` (compile/fit/evaluate/predict) and last
``models`` (``Model`` is a Trainer and a Layer).
"""

import importlib

from . import (activations, backend, callbacks, constraints, initializers, layers, losses,
               metrics, models, ops, optimizers, preprocessing, random, regularizers, saving,
               utils)
from .layers import Input
from .models import Model, Sequential

__all__ = ["Sequential", "Model", "Input", "activations", "backend", "callbacks", "constraints",
           "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers",
           "preprocessing", "random", "regularizers", "saving", "utils", "datasets"]


def __getattr__(name):
    # keras.datasets lives in its own subpackage; import it only when it is asked for.
    if name == "datasets":
        try:
            return importlib.import_module(".datasets", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.datasets":
                raise  # the subpackage exists but something it imports is missing
            raise AttributeError("chainrule.keras.datasets is not part of this build") from e
    raise AttributeError(f"module 'chainrule.keras' has no attribute {name!r}")
