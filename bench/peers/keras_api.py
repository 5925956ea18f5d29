"""The models' Keras code, written once against any module with the Keras API.

Both ``keras_loop`` (real Keras 3) and ``chainrule_fit`` (``chainrule.keras``) hand their
``keras`` module to :func:`make_runner`, so they are measured on literally the same calls. The
book's model is the book's code: ``Sequential([Dense(512, relu), Dense(10, softmax)])``,
``compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy',
metrics=['accuracy'])``. The second model is ``Sequential([Dense(256, tanh),
Dense(256, sigmoid), Dense(10)])`` compiled with ``optimizers.Adam()`` and
``losses.SparseCategoricalCrossentropy(from_logits=True)``. Then one
``fit(x, y, epochs=1, batch_size=..., verbose=0)`` per benchmark epoch (fit shuffles each call,
and the model and optimizer state carry over between calls, as with ``epochs=N``).

Before training, the weights are set to :func:`peers.common.init_params`, the same arrays every
other entry starts from, so all trajectories begin at one point.
"""

from __future__ import annotations

from .common import INPUT_DIM, CLASSES, Unavailable, init_params, model_spec


def _require(obj, dotted: str, owner: str):
    """getattr along a dotted path, turning a missing piece into Unavailable."""
    for part in dotted.split("."):
        if not hasattr(obj, part):
            raise Unavailable(f"not available yet: {owner} has no {dotted}")
        obj = getattr(obj, part)
    return obj


def build_model(keras, model, seed: int, owner: str = "keras", compile_options=None):
    """The spec's model on ``keras``, compiled, with :func:`init_params`' weights."""
    spec = model_spec(model)
    Sequential = _require(keras, "Sequential", owner)
    Dense = _require(keras, "layers.Dense", owner)
    set_seed = getattr(getattr(keras, "utils", None), "set_random_seed", None)
    if set_seed is not None:
        set_seed(seed)  # fit's shuffling
    layers = [Dense(units, activation=act) for units, act in spec.hidden]
    if spec.output == "softmax":
        layers.append(Dense(CLASSES, activation="softmax"))
        optimizer, loss = spec.optimizer, "sparse_categorical_crossentropy"
    else:
        layers.append(Dense(CLASSES))
        name = {"rmsprop": "RMSprop", "adam": "Adam"}[spec.optimizer]
        optimizer = _require(keras, f"optimizers.{name}", owner)()
        loss = _require(keras, "losses.SparseCategoricalCrossentropy", owner)(from_logits=True)
    net = Sequential(layers)
    for method in ("build", "set_weights", "compile", "fit", "evaluate"):
        _require(net, method, f"{owner}.Sequential")
    net.build((None, INPUT_DIM))
    net.set_weights(list(init_params(seed, spec).values()))
    net.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], **(compile_options or {}))
    return net


class KerasRunner:
    def __init__(self, keras, data, batch_size: int, seed: int, owner: str, info: str,
                 compile_options: dict | None = None, model="book"):
        self.model = build_model(keras, model, seed, owner, compile_options)
        self.data, self.batch_size, self.info = data, batch_size, info

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
                compile_options: dict | None = None, model="book") -> KerasRunner:
    """The runner; ``compile_options`` are extra ``compile`` arguments (``jit_compile``)."""
    return KerasRunner(keras, data, batch_size, seed, owner, info, compile_options, model)
