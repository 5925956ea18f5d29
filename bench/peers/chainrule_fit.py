"""chainrule's eager entry: the models' Keras code run on ``chainrule.keras``, with
``compile(..., jit_compile=False)`` so every op of every step is dispatched as it is called
(``chainrule_jit`` is the same code compiled).

Until the engine lands, ``from chainrule import keras`` or one of ``Sequential``,
``layers.Dense``, ``compile``, ``fit``, ``evaluate`` is missing and the harness reports
"not available yet" (skipped).
"""

from __future__ import annotations

from . import keras_api
from .common import Unavailable


def make(data, batch_size: int, seed: int, jit_compile: bool, mode: str, model="book"):
    """A runner for the model on chainrule.keras, compiled or not."""
    try:
        from chainrule import keras
    except ImportError as exc:
        raise Unavailable(f"not available yet ({exc})") from None
    import chainrule
    version = getattr(chainrule, "__version__", "?")
    try:
        return keras_api.make_runner(keras, data, batch_size, seed, "chainrule.keras",
                                     f"chainrule {version} {mode}",
                                     {"jit_compile": jit_compile}, model)
    except NotImplementedError as exc:  # a stub that exists but is not written yet
        raise Unavailable(f"not available yet (NotImplementedError: {exc})") from None


def build(data, batch_size: int, seed: int, model="book"):
    """Harness entry point (see peers.common)."""
    return make(data, batch_size, seed, jit_compile=False, mode="eager", model=model)
