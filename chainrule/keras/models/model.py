"""Model: a Layer that trains. ``compile`` picks the optimizer, loss and metrics; ``fit``,
``evaluate`` and ``predict`` are loops around ``train_step``, ``test_step`` and
``predict_step``, which a subclass may override (``train_step`` is chapter 2's
``one_training_step``).

Subclass it the Keras way: create layers in ``__init__``, use them in ``call``; the
weights are found by walking the attributes.
"""

import numpy as np

from ... import ops, random
from ...autodiff.tape import GradientTape
from ...tensor import Tensor
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers, saving
from .jit import CompiledSteps
from ..callbacks import CallbackList, History, ProgbarLogger
from ..layers.layer import Layer
from ..utils import batching, data_adapter
from ..utils.summary import summary_text

__all__ = ["Model"]


class Model(Layer):
    """A trainable stack of layers: ``compile`` then ``fit`` / ``evaluate`` / ``predict``.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> from chainrule.keras import layers
    >>> model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> x, y = np.random.rand(64, 5).astype("float32"), np.random.randint(0, 3, 64)
    >>> history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    >>> model.predict(x[:4], verbose=0).shape
    (4, 3)
    """

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(
                "Model(inputs, outputs) (the functional API) is not supported; use "
                "keras.Sequential([...]) or subclass keras.Model with a call() method")
        super().__init__(**kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss_fn = None
        self._compiled_metrics = []  # the Metric objects compile made
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._in_fit = False
        self._train_weights = None  # see _weights_to_train
        self._jit = None  # CompiledSteps when compiled with jit_compile

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._sublayers())

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def build(self, input_shape):
        """Builds the weights by running the model once on zeros of ``input_shape``."""
        if type(self).call is not Model.call:
            probe = tuple(1 if d is None else d for d in input_shape)
            self.built = True  # so the probe call below does not come back here
            self.call(ops.zeros(probe))
        self.built = True

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a table of the layers, their output shapes and parameter counts."""
        (print_fn or print)(summary_text(self, line_length))

    # -- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Chooses how to train: ``optimizer`` and ``loss`` by name or object, ``metrics`` a
        list of names (``"accuracy"`` is resolved from the data's shapes on the first
        batch, see :func:`chainrule.keras.metrics.resolve`) or Metric objects.

        ``jit_compile`` (True, or "auto", the default) runs the steps of ``fit``,
        ``evaluate`` and ``predict`` as compiled graphs (see
        :mod:`chainrule.keras.models.jit`), with the numbers eager code gives; a step that
        cannot be compiled faithfully runs eagerly, with one warning. ``jit_compile=False``
        or ``run_eagerly=True`` runs them eagerly.
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("compile: loss_weights and weighted_metrics are not "
                                      "supported (models have one output)")
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto'; received "
                             f"{jit_compile!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._loss_fn = _as_loss(loss)
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        # Unknown names fail here, not mid-fit; "accuracy" is settled on the first batch.
        self._compiled_metrics = [metrics_module.get(spec) for spec in metrics or []]
        self._train_weights = None
        self.jit_compile, self.run_eagerly = jit_compile, run_eagerly
        self._jit = None if run_eagerly or jit_compile is False else CompiledSteps(self)
        self.compiled = True

    def _require_compiled(self, caller, need_loss=True):
        if not self.compiled:
            raise RuntimeError(f"{caller}: call model.compile(optimizer=..., loss=...) first")
        if need_loss and self._loss_fn is None:
            raise ValueError(f"{caller}: the model was compiled without a loss; pass "
                             f"compile(loss=...)")

    # -- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self):
        """The loss tracker, then the compiled metrics."""
        return [self._loss_tracker] + self._compiled_metrics

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with one batch; returns every metric's result."""
        for metric in self._compiled_metrics:
            metric.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """``{name: value}`` of every metric, sorted by name (as Keras's logs are)."""
        results = {m.name: float(m.result()) for m in self.metrics}
        return {name: results[name] for name in sorted(results)}

    # -- one step ------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of one batch (a scalar tensor), plus the layers' weight
        penalties (regularizers), as Keras adds ``model.losses`` in training and in
        evaluation alike. Override for a custom loss."""
        loss = self._loss_fn(y, y_pred, sample_weight)
        penalties = self._weight_penalties()
        return loss + ops.add_n(penalties) if penalties else loss

    def train_step(self, data):
        """One gradient step on a batch ``(x, y)``; returns the metrics' running values.

        The gradient step itself is :meth:`_gradient_step` (compiled under ``jit_compile``);
        the metrics are updated from its loss and predictions."""
        x, y = data
        loss, y_pred = self._run("_gradient_step", x, y)
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        return self.compute_metrics(x, y, y_pred)

    def _gradient_step(self, x, y):
        """Chapter 2's ``one_training_step``: the loss under a tape, its gradient, the
        update. Returns ``(loss, y_pred)``."""
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, training=True)
        weights = self._weights_to_train()
        grads = tape.gradient(loss, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        return loss, y_pred

    def _run(self, method, *args):
        """``getattr(self, method)(*args)``: through its compiled graph under jit_compile."""
        if self._jit is None:
            return getattr(self, method)(*args)
        return self._jit.run(method, *args)

    def _step_function(self, name):
        """What a loop calls per batch: the step ``name``. Model's own steps compile their
        inner part (``_gradient_step`` ...) themselves; a step a subclass overrides is traced
        whole only with ``jit_compile=True`` ("auto" runs the override's Python as written)."""
        if self._jit is None or self.jit_compile is not True or \
                getattr(type(self), name) is getattr(Model, name):
            return getattr(self, name)
        return lambda data: self._jit.run(name, data)

    def _weights_to_train(self):
        """``trainable_weights``, looked up once per fit/train_on_batch call (after the
        first batch has built the model) rather than by walking the layers every step.
        As in Keras, changing ``trainable`` takes effect at the next fit/compile."""
        if self._train_weights is None:
            self._train_weights = self.trainable_weights
        return self._train_weights

    def test_step(self, data):
        """Loss and metrics on a batch ``(x, y)``, without changing the weights."""
        x, y = data
        loss, y_pred = self._run("_test_forward", x, y)
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        return self.compute_metrics(x, y, y_pred)

    def _test_forward(self, x, y):
        y_pred = self(x, training=False)
        return self.compute_loss(x, y, y_pred, training=False), y_pred

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._run("_predict_forward", x)

    def _predict_forward(self, x):
        return self(x, training=False)

    # -- loops ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Trains for ``epochs`` passes over ``(x, y)`` in batches of ``batch_size`` (32).

        The data are reshuffled every epoch (from chainrule's seeded generator) unless
        ``shuffle=False``; the last batch keeps the remainder. ``validation_split`` holds
        out the last fraction of the data (before shuffling); ``validation_data=(x, y)``
        takes precedence. ``verbose``: "auto"/1 progress bar, 2 one line per epoch, 0
        silent. Returns a :class:`~chainrule.keras.callbacks.History` whose ``history``
        holds, per epoch, the mean training loss and metrics and the ``val_`` values.
        """
        self._require_compiled("fit")
        data = data_adapter.adapt(x, y, batch_size, "fit", shuffle=shuffle)
        if validation_data is not None:
            val = data_adapter.adapt_validation(validation_data, batch_size)
        elif validation_split:
            data, val = data.split(validation_split)
        else:
            val = None
        if epochs < 1 or initial_epoch < 0:
            raise ValueError(f"fit: epochs must be >= 1 and initial_epoch >= 0; received "
                             f"epochs={epochs}, initial_epoch={initial_epoch}")
        verbose = _verbosity(verbose)
        steps = data.steps
        history = History()
        cbs = self._callbacks(callbacks, history, verbose,
                              {"verbose": verbose, "epochs": epochs, "steps": steps})
        # Each epoch's order comes from (fit seed, epoch): repeatable after set_seed, and a
        # fit resumed by BackupAndRestore (which restores the seed) replays the same batches.
        self._fit_seed = int(random.generator().integers(2**63))
        self._resume_epoch = None
        self.stop_training = False
        self._train_weights = None
        self._in_fit = True
        try:
            self._prepare_loop(data.sample_x())
            train_step = self._step_function("train_step")
            logs = {}
            cbs.call("on_train_begin", logs)
            start = max(initial_epoch, self._resume_epoch or 0)
            for epoch in range(start, epochs):
                self.reset_metrics()
                cbs.call("on_epoch_begin", epoch, {})
                rng = np.random.default_rng([self._fit_seed, epoch])
                for step, batch in enumerate(data.batches(rng)):
                    cbs.call("on_train_batch_begin", step, {})
                    logs = _as_floats(train_step(batch))
                    cbs.call("on_train_batch_end", step, logs)
                    if self.stop_training:
                        break
                epoch_logs = dict(logs)
                if val is not None:
                    val_logs = self._run_test(val, cbs)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                epoch_logs = dict(sorted(epoch_logs.items()))
                cbs.call("on_epoch_end", epoch, epoch_logs)
                logs = epoch_logs
                if self.stop_training:
                    break
            cbs.call("on_train_end", logs)
        finally:
            self._in_fit = False
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        self.history = history
        return history

    # -- saving (see chainrule.keras.saving for the file format) ----------------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Writes architecture, weights, compile settings and optimizer state to one file,
        atomically; ``keras.models.load_model(filepath)`` reads it back."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Writes the weights alone, atomically."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Sets the weights from a file of ``save`` or ``save_weights``; the shapes must fit."""
        saving.load_weights(self, filepath)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None,
                 return_dict=False):
        """The loss (and metrics) on ``(x, y)``, in batches of ``batch_size`` (32).

        Returns the loss alone when no metrics were compiled, else ``[loss, *metrics]`` in
        compile order, or a dict with ``return_dict=True``.
        """
        self._require_compiled("evaluate")
        data = data_adapter.adapt(x, y, batch_size, "evaluate")
        verbose = _verbosity(verbose)
        steps = data.steps
        cbs = self._callbacks(callbacks, None, verbose,
                              {"verbose": verbose, "epochs": 1, "steps": steps})
        logs = self._run_test(data, cbs)
        return self._results(logs, return_dict)

    def _run_test(self, data, cbs):
        self.reset_metrics()
        self._prepare_loop(data.sample_x())
        test_step = self._step_function("test_step")
        logs = {}
        cbs.call("on_test_begin", logs)
        for step, batch in enumerate(data.batches()):
            cbs.call("on_test_batch_begin", step, {})
            logs = _as_floats(test_step(batch))
            cbs.call("on_test_batch_end", step, logs)
        cbs.call("on_test_end", logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for ``x``, computed in batches (32), as one NumPy array."""
        data = data_adapter.adapt(x, None, batch_size, "predict", targets=False)
        verbose = _verbosity(verbose)
        steps = data.steps
        cbs = self._callbacks(callbacks, None, verbose,
                              {"verbose": verbose, "epochs": 1, "steps": steps})
        outs = []
        self._prepare_loop(data.sample_x())
        predict_step = self._step_function("predict_step")
        cbs.call("on_predict_begin", {})
        for step, batch in enumerate(data.batches()):
            cbs.call("on_predict_batch_begin", step, {})
            batch_out = np.asarray(predict_step(batch))
            outs.append(batch_out)
            cbs.call("on_predict_batch_end", step, {"outputs": batch_out})
        cbs.call("on_predict_end", {})
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def train_on_batch(self, x, y, return_dict=False):
        """One ``train_step`` on the given batch; returns its loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x, y = batching.check_data(x, y, "train_on_batch")
        self.reset_metrics()
        self._train_weights = None
        self._prepare_loop(x)
        step = self._step_function("train_step")
        return self._results(_as_floats(step(_batch(x, y, slice(None)))), return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y = batching.check_data(x, y, "test_on_batch")
        self.reset_metrics()
        self._prepare_loop(x)
        step = self._step_function("test_step")
        return self._results(_as_floats(step(_batch(x, y, slice(None)))), return_dict)

    def predict_on_batch(self, x):
        x, _ = batching.check_data(x, None, "predict_on_batch")
        self._prepare_loop(x)
        return np.asarray(self._step_function("predict_step")(Tensor._wrap(x)))

    def _prepare_loop(self, x):
        """Builds the model for ``x`` (a trace must not be the place weights are made) and
        lets the compiled steps see any change of weights."""
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        if self._jit is not None:
            self._jit.refresh()

    def _results(self, logs, return_dict):
        if return_dict:
            return dict(logs)
        names = self.metrics_names
        if len(names) == 1:
            return logs["loss"]
        return [logs[name] for name in names]

    def _callbacks(self, callbacks, history, verbose, params):
        callbacks = list(callbacks or [])
        if history is not None:
            callbacks.append(history)
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            callbacks.append(ProgbarLogger())
        return CallbackList(callbacks, self, params)


def _batch(x, y, index):
    return (Tensor._wrap(batching.take_batch(x, index)),
            Tensor._wrap(batching.take_batch(y, index)))


def _as_floats(logs):
    """A step's logs as ``{name: float}`` (an overridden step may return tensors)."""
    return {name: float(value) for name, value in logs.items()}


def _verbosity(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2; received {verbose!r}")
    return verbose


def _as_loss(loss):
    """The compiled loss as a reducing callable ``(y_true, y_pred, sample_weight)``."""
    if loss is None:
        return None
    resolved = losses_module.get(loss)
    if isinstance(resolved, losses_module.Loss):
        return resolved
    name = loss if isinstance(loss, str) else getattr(resolved, "__name__", "loss")
    return losses_module.LossFunctionWrapper(resolved, name=name)

