"""The book's Keras code, written once against any module with the Keras API.

Both ``keras_loop`` (real Keras 3) and ``chainrule_fit`` (``chainrule.keras``) hand their
``keras`` module to :func:`make_runner`, so they are measured on literally the same calls:
``Sequential([Dense(512, relu), Dense(10, softmax)])``, ``compile(optimizer='rmsprop',
loss='sparse_categorical_crossentropy', metrics=['accuracy'])``, then one
``fit(x, y, epochs=1, batch_size=128, verbose=0)`` per benchmark epoch (fit shuffles each call,
and the model and optimizer state carry over between calls, as with ``epochs=N``).
"""

from __future__ import annotations

from .common import Unavailable


def _require(obj, dotted: str, owner: str):
    """getattr along a dotted path, turning a missing piece into Unavailable."""
    for part in dotted.split("."):
        if not hasattr(obj, part):
            raise Unavailable(f"not available yet: {owner} has no {dotted}")
        obj = getattr(obj, part)
    return obj


class KerasRunner:
    def __init__(self, keras, data, batch_size: int, seed: int, owner: str, info: str,
                 compile_options: dict | None = None):
        Sequential = _require(keras, "Sequential", owner)
        Dense = _require(keras, "layers.Dense", owner)
        set_seed = getattr(getattr(keras, "utils", None), "set_random_seed", None)
        if set_seed is not None:
            set_seed(seed)
        model = Sequential([Dense(512, activation="relu"), Dense(10, activation="softmax")])
        for method in ("compile", "fit", "evaluate"):
            _require(model, method, f"{owner}.Sequential")
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], **(compile_options or {}))
        self.model, self.data, self.batch_size, self.info = model, data, batch_size, info

    def train_epoch(self) -> float:
        d = self.data
        history = self.model.fit(d.x_train, d.y_train, epochs=1, batch_size=self.batch_size,
                                 verbose=0)
        return float(history.history["loss"][-1])

    def evaluate(self) -> float:
        d = self.data
        result = self.model.evaluate(d.x_test, d.y_test, verbose=0)
        # Keras returns [loss, accuracy] with metrics compiled; tolerate a dict too.
        if isinstance(result, dict):
            return float(result.get("accuracy", result.get("acc")))
        return float(result[-1])


def make_runner(keras, data, batch_size: int, seed: int, owner: str, info: str,
                compile_options: dict | None = None) -> KerasRunner:
    """The runner; ``compile_options`` are extra ``compile`` arguments (``jit_compile``)."""
    return KerasRunner(keras, data, batch_size, seed, owner, info, compile_options)
