"""Keras 3 peer: the models' Keras code, ``model.fit`` on whichever backend is installed.

The backend comes from $KERAS_BACKEND when set; otherwise this picks JAX if it is installed,
then torch, then TensorFlow (Keras' own default), so a bare ``pip install keras jax`` works.
"""

from __future__ import annotations

import importlib.util
import os

from . import keras_api
from .common import Unavailable


def _choose_backend() -> None:
    if "KERAS_BACKEND" in os.environ:
        return
    for module, backend in (("jax", "jax"), ("torch", "torch"), ("tensorflow", "tensorflow")):
        if importlib.util.find_spec(module) is not None:
            os.environ["KERAS_BACKEND"] = backend
            return


def build(data, batch_size: int, seed: int, model="book"):
    """Harness entry point (see peers.common); raises Unavailable without keras or a backend."""
    if importlib.util.find_spec("keras") is None:
        raise Unavailable("not installed (no module named 'keras')")
    _choose_backend()
    if os.environ.get("KERAS_BACKEND") == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import keras  # lazy on purpose: keras is optional
    except ImportError as exc:
        raise Unavailable(f"not installed or no backend ({exc})") from None
    info = f"keras {keras.__version__}, backend {keras.backend.backend()}"
    return keras_api.make_runner(keras, data, batch_size, seed, "keras", info, model=model)
