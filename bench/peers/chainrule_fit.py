"""chainrule's own entry: the book's Keras code run on ``chainrule.keras``.

Until the engine lands, ``from chainrule import keras`` or one of ``Sequential``,
``layers.Dense``, ``compile``, ``fit``, ``evaluate`` is missing and the harness reports
"not available yet" (skipped). Once they exist with Keras semantics this becomes a real
measurement with no change here: the calls are the same ones the Keras peer makes.
"""

from __future__ import annotations

from . import keras_api
from .common import Unavailable


def build(data, batch_size: int, seed: int):
    """Harness entry point (see peers.common)."""
    try:
        from chainrule import keras
    except ImportError as exc:
        raise Unavailable(f"not available yet ({exc})") from None
    try:
        import chainrule
        version = getattr(chainrule, "__version__", "?")
    except ImportError:  # pragma: no cover - imported just above
        version = "?"
    try:
        return keras_api.make_runner(keras, data, batch_size, seed, "chainrule.keras",
                                     f"chainrule {version}")
    except NotImplementedError as exc:  # a stub that exists but is not written yet
        raise Unavailable(f"not available yet (NotImplementedError: {exc})") from None
