"""Trainer: what makes a Model train. ``compile`` picks the optimizer, loss and metrics;
``fit``, ``evaluate`` and ``predict`` are loops around ``train_step``, ``test_step`` and
``predict_step``, which a subclass may override (``train_step`` is chapter 2's
``one_training_step``).

:class:`~chainrule.keras.Model` inherits it, as Keras 3's Model inherits its Trainer; what
the trainer needs of the model is what every Layer has: calling it, ``build``, its weights
and its ``losses``. The per-output loss and metric rules are in :mod:`.compile_utils`, the
compiled steps in :mod:`.jit`.
"""

import itertools
import numbers

import numpy as np

from ... import nest, ops, random
from ...autodiff.tape import GradientTape
from ...tensor import Tensor
from .. import distribute as _distribute
from .. import metrics as metrics_module
from .. import optimizers
from ..callbacks import CallbackList, History, ProgbarLogger
from ..diagnostics import FitWatch, check_model_gradients
from ..utils import batching, data_adapter
from .compile_utils import CompileLoss, CompileMetrics, ordered_results
from .jit import CompiledSteps

__all__ = ["Trainer"]


class Trainer:
    """``compile``, ``fit``, ``evaluate``, ``predict`` and the steps they run, for a model
    (a Layer) that inherits it."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss_fn = None  # the CompileLoss compile made
        self._compile_metrics = None  # the CompileMetrics compile made
        self._compiled_metrics = []  # its Metric objects
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._in_fit = False
        self._train_weights = None  # see _weights_to_train
        self._jit = None  # CompiledSteps when compiled with jit_compile
        self.steps_per_execution = 1

    # -- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Chooses how to train: ``optimizer`` and ``loss`` by name or object, ``metrics`` a
        list of names (``"accuracy"`` is resolved from the data's shapes on the first
        batch, see :func:`chainrule.keras.metrics.resolve`) or Metric objects.

        For several outputs, ``loss``, ``loss_weights``, ``metrics`` and
        ``weighted_metrics`` may be lists (one entry per output) or dicts by output name;
        see :mod:`chainrule.keras.trainers.compile_utils` for the rules and log names.

        ``jit_compile`` (True, or "auto", the default) runs the steps of ``fit``,
        ``evaluate`` and ``predict`` as compiled graphs (see
        :mod:`chainrule.keras.trainers.jit`), with the numbers eager code gives; a step that
        cannot be compiled faithfully runs eagerly, with one warning. ``jit_compile=False``
        or ``run_eagerly=True`` runs them eagerly.

        ``steps_per_execution`` (1) groups the batches of ``fit``, ``evaluate`` and
        ``predict`` into executions of that many steps: callbacks' batch hooks run once per
        execution, ``on_*_batch_begin`` with the index of its first batch and
        ``on_*_batch_end`` with that index plus ``steps_per_execution - 1`` (even for the
        last, shorter execution), as Keras 3 reports them, and with the logs of its last
        step. The batches themselves, their order and the numbers are those of
        ``steps_per_execution=1``; an execution never crosses an epoch's end (where Keras
        would run past ``steps_per_epoch`` when it is not a multiple). Each step is still
        one call of the (compiled) step: what it saves is the callbacks' and the progress
        bar's work per batch, and under a strategy the reduction of the logs (once per
        execution).
        """
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto'; received "
                             f"{jit_compile!r}")
        if isinstance(steps_per_execution, bool) or \
                not isinstance(steps_per_execution, numbers.Integral) or steps_per_execution < 1:
            raise ValueError(f"compile: steps_per_execution must be a positive integer; "
                             f"received {steps_per_execution!r}")
        self.steps_per_execution = int(steps_per_execution)
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics}
        # Several outputs: one loss and metric list per output (see compile_utils).
        names = getattr(self, "output_names", None)
        self._loss_fn = None if loss is None else CompileLoss(loss, loss_weights, names)
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        # Unknown names fail here, not mid-fit; "accuracy" is settled on the first batch.
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics, names)
        self._compiled_metrics = self._compile_metrics.metrics
        self._train_weights = None
        self.jit_compile, self.run_eagerly = jit_compile, run_eagerly
        self._jit = None if run_eagerly or jit_compile is False else CompiledSteps(self)
        # A MultiWorkerMirroredStrategy in scope makes the loops data-parallel.
        self._distribute_strategy = _distribute.strategy_in_scope()
        self.compiled = True

    def _require_compiled(self, caller):
        if not self.compiled:
            raise RuntimeError(f"{caller}: call model.compile(optimizer=..., loss=...) first")

    # -- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self):
        """The loss tracker, the compiled metrics, then each output's loss tracker (for
        several losses), in Keras's order; then the metrics the layers hold (metric
        objects in attributes, ``add_metric``'s)."""
        per_output = self._loss_fn.metrics if self._loss_fn is not None else []
        own = [self._loss_tracker] + self._compiled_metrics + per_output
        ids = {id(m) for m in own}
        return own + [m for m in getattr(super(), "metrics", []) if id(m) not in ids]

    @property
    def compiled_metrics(self):
        """The compiled metrics as one object (``update_state(y, y_pred)``, ``result()``),
        for ``train_step`` overrides written for TF-Keras 2."""
        return self._compile_metrics

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """TF-Keras 2's spelling of :meth:`compute_loss` (``add_loss`` terms included, so
        ``regularization_losses`` is not added again, as in Keras 3)."""
        return self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with one batch; returns every metric's result.
        ``sample_weight`` reaches only the ``weighted_metrics``, as in Keras."""
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """``{name: value}`` of every metric, sorted by name (as Keras's logs are)."""
        results = {m.name: float(m.result()) for m in self.metrics}
        return {name: results[name] for name in sorted(results)}

    # -- one step ------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss of one batch (a scalar tensor): the compiled loss (summed over the
        outputs, with ``loss_weights``) plus ``model.losses``: the ``add_loss`` terms of the
        last call and the layers' weight penalties (regularizers). Override for a custom
        loss."""
        losses = []
        if self._loss_fn is not None:
            if y is None:
                raise ValueError(self._no_targets_message())
            losses.append(self._loss_fn(y, y_pred, sample_weight))
        for extra in self.losses:
            extra = ops.convert_to_tensor(extra)
            if extra.dtype.kind != "f":
                extra = ops.cast(extra, "float32")
            losses.append(ops.reduce_sum(extra) if extra.ndim else extra)
        if not losses:
            raise ValueError("the model was compiled without a loss and its call added no "
                             "loss with add_loss(); pass compile(loss=...)")
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total

    def _no_targets_message(self):
        return (f"model '{self.name}' was compiled with loss={self.loss!r}, which compares "
                f"predictions with targets, but the data has no targets (y is None). Give "
                f"y=... (or a Dataset of (x, y) pairs), or compile without loss= when the "
                f"model's layers add their losses with add_loss()")

    def _check_targets(self, y, step):
        """Fails before the loop when arrays come without targets that the compiled loss
        needs (an overridden step may not need them)."""
        if y is None and self._loss_fn is not None and \
                getattr(type(self), step) is getattr(Trainer, step):
            raise ValueError(self._no_targets_message())

    def train_step(self, data):
        """One gradient step on a batch ``(x, y)`` or ``(x, y, sample_weight)``; returns
        the metrics' running values.

        The gradient step itself is :meth:`_gradient_step`; the loss trackers and metrics
        are updated from its loss and predictions (:meth:`_measured`). Under
        ``jit_compile`` both run as one compiled graph, so a batch costs one call."""
        x, y, sample_weight = batching.unpack_x_y_sample_weight(data)
        args = (x, y) if sample_weight is None else (x, y, sample_weight)
        self._measured("_gradient_step", args)
        return self.get_metrics_result()

    def _measured(self, step, args):
        """Runs ``step`` (``_gradient_step`` or ``_test_forward``) on ``args`` and updates
        the metrics from what it returns. Compiled, the metric updates join the step's
        graph (``_measured_gradient_step`` ...); a metric that a replay could not repeat
        (one that reads values into Python) keeps them in Python, after the compiled step."""
        if self._jit is not None:
            if self._jit.try_run(f"_measured{step}", *args):
                return
        x, y = args[0], args[1]
        sample_weight = args[2] if len(args) > 2 else None
        loss, y_pred, output_losses = self._run(step, *args)
        self._update_metrics(x, y, loss, y_pred, output_losses, sample_weight)

    def _update_metrics(self, x, y, loss, y_pred, output_losses, sample_weight):
        self._track_losses(loss, output_losses, x)
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)

    def _measured_gradient_step(self, x, y, sample_weight=None):
        """:meth:`_gradient_step` and the metric updates, as one function to trace."""
        loss, y_pred, output_losses = self._gradient_step(x, y, sample_weight)
        self._update_metrics(x, y, loss, y_pred, output_losses, sample_weight)
        return loss

    def _measured_test_forward(self, x, y, sample_weight=None):
        """:meth:`_test_forward` and the metric updates, as one function to trace."""
        loss, y_pred, output_losses = self._test_forward(x, y, sample_weight)
        self._update_metrics(x, y, loss, y_pred, output_losses, sample_weight)
        return loss

    def _track_losses(self, loss, output_losses, x):
        n = batching.num_samples(x)
        self._loss_tracker.update_state(loss, sample_weight=n)
        if output_losses:
            self._loss_fn.update_trackers(output_losses, n)

    def _output_losses(self):
        """The per-output losses of the compiled loss's latest call (empty for one loss)."""
        return self._loss_fn.last_values if self._loss_fn is not None else ()

    def _gradient_step(self, x, y, sample_weight=None):
        """Chapter 2's ``one_training_step``: the loss under a tape, its gradient, the
        update. Returns ``(loss, y_pred, per-output losses)``."""
        if self._loss_fn is not None:
            self._loss_fn.last_values = ()
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
        weights = self._weights_to_train()
        grads = tape.gradient(loss, weights)
        grads = _distribute.reduce_gradients(self, grads)  # the mean over ranks, if distributed
        self.optimizer.apply_gradients(zip(grads, weights))
        return loss, y_pred, self._output_losses()

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
                getattr(type(self), name) is getattr(Trainer, name):
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
        """Loss and metrics on a batch ``(x, y)`` (or ``(x, y, sample_weight)``), without
        changing the weights."""
        x, y, sample_weight = batching.unpack_x_y_sample_weight(data)
        args = (x, y) if sample_weight is None else (x, y, sample_weight)
        self._measured("_test_forward", args)
        return self.get_metrics_result()

    def _test_forward(self, x, y, sample_weight=None):
        if self._loss_fn is not None:
            self._loss_fn.last_values = ()
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return loss, y_pred, self._output_losses()

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._run("_predict_forward", x)

    def _predict_forward(self, x):
        return self(x, training=False)

    # -- loops ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, checks=True, check_numerics=False,
            diagnostics=False):
        """Trains for ``epochs`` passes over ``(x, y)`` in batches of ``batch_size`` (32).

        ``x`` and ``y`` are arrays, or lists/dicts of arrays for several inputs and outputs
        (dicts keyed by input and output names). The data are reshuffled every epoch (from
        chainrule's seeded generator) unless ``shuffle=False``; the last batch keeps the
        remainder. ``validation_split`` holds out the last fraction of the data (before
        shuffling); ``validation_data=(x, y)`` or ``(x, y, sample_weight)`` takes
        precedence, evaluated every ``validation_freq`` epochs on at most
        ``validation_steps`` batches of ``validation_batch_size``. ``sample_weight`` weights
        each sample's loss; ``class_weight`` (``{class: weight}``, one output only) does the
        same by label. ``steps_per_epoch`` ends an epoch after that many batches; the next
        epoch continues where it stopped, and when the data run out the epoch ends early
        with a warning (as Keras does); the same holds for a Dataset, which may then be
        endless (``repeat()``). An endless validation Dataset needs ``validation_steps``. ``verbose``: "auto"/1 progress bar, 2 one line per
        epoch, 0 silent. Returns a :class:`~chainrule.keras.callbacks.History` whose
        ``history`` holds, per epoch, the mean training loss and metrics and the ``val_``
        values.

        ``checks`` (on by default) warns once about likely mistakes seen on the first
        batch; ``check_numerics=True`` stops at the first NaN or inf, naming the op, the
        layer and the batch; ``diagnostics=True`` records per-layer gradient norms, update
        ratios, dead ReLUs and logit scale (see :mod:`chainrule.keras.diagnostics`).
        """
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "fit", locals())
        self._require_compiled("fit")
        dist = _distribute.loop_for(self)  # None unless compiled under a multi-rank strategy
        if data_adapter.is_dataset(x):  # already batched: each element is one (x, y) batch
            data = data_adapter.adapt(x, y, batch_size, "fit", shuffle=shuffle)
            if validation_split:
                data.split(validation_split)  # refuses, naming the fix
            epochs_of = data.epochs(steps_per_epoch)
            sample, steps, x_dtype, x, y = data.sample_x(), epochs_of.steps, None, None, None
            # the ranks compare their Datasets' lengths too: one that ran out first would hang
            dataset_plan = {"dataset_batches": epochs_of.num_batches or "endless"}

            def train_batches(epoch):
                return epochs_of.epoch()
        else:
            dataset_plan = {}
            x_dtype = getattr(x, "dtype", None)  # before the float32 conversion, for `checks`
            x, y = batching.check_data(x, y, "fit")
            self._check_targets(y, "train_step")
            sample_weight = batching.check_sample_weight(sample_weight, y, "fit")
            if class_weight is not None and sample_weight is not None:
                raise ValueError("fit: you cannot `class_weight` and `sample_weight` at the "
                                 "same time; fold the class weights into sample_weight")
        batching.check_steps(validation_steps, "validation_steps", "fit")
        if data_adapter.is_dataset(validation_data):
            validation = data_adapter.adapt_validation(validation_data, None)
            val_steps = validation.steps_up_to(validation_steps, "validation_steps")
            # the first validation_steps batches, every time (as for arrays)
            def val_batches():
                if dist:  # before the first step's collective
                    dist.agree("validation", batches=val_steps)
                return itertools.islice(validation.batches(), val_steps)
            val = (val_batches, validation.sample_x())
        elif validation_data is not None:
            val = _unpack_validation(validation_data)
        elif validation_split:
            (x, y), (x_val, y_val) = batching.split_validation(x, y, validation_split)
            w_val = None
            if sample_weight is not None:
                (sample_weight, _), (w_val, _) = batching.split_validation(
                    sample_weight, None, validation_split)
            val = (x_val, y_val, w_val)
        else:
            val = None
        if val is not None and len(val) == 3:  # arrays: cut into batches at each validation
            x_val, y_val, w_val = val
            val = (lambda: self._test_batches(x_val, y_val, w_val,
                                              validation_batch_size or batch_size,
                                              validation_steps, dist, "validation"), x_val)
        if class_weight is not None:
            sample_weight = batching.class_weight_to_sample_weights(y, class_weight)
        if epochs < 1 or initial_epoch < 0:
            raise ValueError(f"fit: epochs must be >= 1 and initial_epoch >= 0; received "
                             f"epochs={epochs}, initial_epoch={initial_epoch}")
        if x is not None:
            n = batching.num_samples(x)
            batch_size = batching.check_batch_size(batch_size, "fit", default=None) or (
                -(-n // steps_per_epoch) if steps_per_epoch else 32)
            batches = batching.EpochBatches(n, batch_size, shuffle, steps_per_epoch)
            steps, sample = batches.steps, x

            def train_batches(epoch):
                indices = batches.epoch(self._fit_seed, epoch)
                return (_batch(x, y, index, sample_weight)
                        for index in (dist.shard(indices, "fit") if dist else indices))
        verbose = _verbosity(verbose)
        history = History()
        watch = FitWatch(self, history, (x, y, x_dtype), batch_size, checks, check_numerics,
                         diagnostics)
        callbacks = watch.callbacks + list(callbacks or [])
        cbs = self._callbacks(callbacks, history, verbose,
                              {"verbose": verbose, "epochs": epochs, "steps": steps})
        # Each epoch's order comes from (fit seed, epoch): repeatable after set_seed, and a
        # fit resumed by BackupAndRestore (which restores the seed) replays the same batches.
        self._fit_seed = int(random.generator().integers(2**63))
        self._resume_epoch = None
        self.stop_training = False
        self._train_weights = None
        self._in_fit = True
        self._fit_validates = val is not None  # callbacks check their log keys by it
        try:
            self._prepare_loop(sample)
            train_step = self._executor(self._step_function("train_step"), dist)
            if dist:
                dist.begin_fit(steps=steps, epochs=epochs, initial_epoch=initial_epoch,
                               **dataset_plan,
                               validation=_validation_plan(val, validation_freq))
            logs = {}
            cbs.call("on_train_begin", logs)
            start = max(initial_epoch, self._resume_epoch or 0)
            for epoch in range(start, epochs):
                self.reset_metrics()
                cbs.call("on_epoch_begin", epoch, {})
                for begin, end, execution in self._executions(train_batches(epoch)):
                    cbs.call("on_train_batch_begin", begin, {})
                    logs = train_step(execution)
                    cbs.call("on_train_batch_end", end, logs)
                    if self.stop_training:
                        break
                epoch_logs = dict(logs)
                if val is not None and _validates(epoch, validation_freq):
                    val_logs = self._run_test(val[0](), val[1], cbs)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                epoch_logs = dict(sorted(epoch_logs.items()))
                cbs.call("on_epoch_end", epoch, epoch_logs)
                logs = epoch_logs
                if self.stop_training:
                    break
            cbs.call("on_train_end", logs)
        finally:
            self._in_fit = False
            watch.close()
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps,
                          **watch.run_info()}
        self.history = history
        return history

    def check_gradients(self, x, y, **kwargs):
        """Checks the loss's gradients with respect to the weights against finite
        differences on ``(x, y)`` (see :func:`chainrule.keras.diagnostics.check_model_gradients`)."""
        return check_model_gradients(self, x, y, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss (and metrics) on ``(x, y)``, in batches of ``batch_size`` (32), at most
        ``steps`` of them; ``sample_weight`` weights each sample's loss.

        Returns the loss alone when no metrics were compiled, else ``[loss, *metrics]`` in
        compile order (for several outputs: the loss, the per-output losses, then the other
        values by name, as Keras 3 orders them), or a dict with ``return_dict=True``.
        """
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "evaluate", locals())
        self._require_compiled("evaluate")
        dist = _distribute.loop_for(self)
        verbose = _verbosity(verbose)
        if data_adapter.is_dataset(x):
            data = data_adapter.adapt(x, y, batch_size, "evaluate")
            n_steps, sample = data.steps_up_to(steps), data.sample_x()
            if dist:  # before the first step's collective
                dist.agree("evaluate", batches=n_steps)
            batches = itertools.islice(data.batches(), n_steps)
        else:
            batch_size = batching.check_batch_size(batch_size, "evaluate")
            x, y = batching.check_data(x, y, "evaluate")
            self._check_targets(y, "test_step")
            sample_weight = batching.check_sample_weight(sample_weight, y, "evaluate")
            n_steps = batching.steps_for(batching.num_samples(x), batch_size)
            batches = self._test_batches(x, y, sample_weight, batch_size, steps, dist, "evaluate")
            sample = x
        cbs = self._callbacks(callbacks, None, verbose, {
            "verbose": verbose, "epochs": 1, "steps": min(steps or n_steps, n_steps)})
        logs = self._run_test(batches, sample, cbs)
        return self._results(logs, return_dict)

    @staticmethod
    def _test_batches(x, y, sample_weight, batch_size, steps, dist, call):
        """The batches of arrays, at most ``steps``; under a strategy, this rank's shares
        (``call``: "evaluate" or "validation", for the ranks' agreement)."""
        indices = batching.batch_indices(batching.num_samples(x), batch_size)
        indices = itertools.islice(indices, steps)
        return (_batch(x, y, index, sample_weight)
                for index in (dist.shard(indices, call) if dist else indices))

    def _run_test(self, batches, sample, cbs):
        self.reset_metrics()
        self._prepare_loop(sample)
        test_step = self._executor(self._step_function("test_step"),
                                   _distribute.loop_for(self))
        logs = {}
        cbs.call("on_test_begin", logs)
        for begin, end, execution in self._executions(batches):
            cbs.call("on_test_batch_begin", begin, {})
            logs = test_step(execution)
            cbs.call("on_test_batch_end", end, logs)
        cbs.call("on_test_end", logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for ``x``, computed in batches (32), as one NumPy array (a
        list or dict of them for several outputs); ``steps`` limits the batches. ``x`` may
        be a :class:`chainrule.data.Dataset` of input batches."""
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "predict", locals())
        if data_adapter.is_dataset(x):
            return self._predict_dataset(x, batch_size, verbose, steps, callbacks)
        batch_size = batching.check_batch_size(batch_size, "predict")
        x, _ = batching.check_data(x, None, "predict")
        verbose = _verbosity(verbose)
        n = batching.num_samples(x)
        n_steps = batching.steps_for(n, batch_size)
        steps = n_steps if steps is None else min(steps, n_steps)
        n = min(n, steps * batch_size)
        cbs = self._callbacks(callbacks, None, verbose,
                              {"verbose": verbose, "epochs": 1, "steps": steps})
        out = structure = None
        self._prepare_loop(x)
        predict_step = self._step_function("predict_step")
        dist = _distribute.loop_for(self)
        cbs.call("on_predict_begin", {})
        batches = batching.batch_indices(n, batch_size)
        for begin, end, execution in self._executions(
                dist.shard(batches, "predict") if dist else batches):
            cbs.call("on_predict_batch_begin", begin, {})
            outputs = []
            for index in execution:
                batch = nest.map_structure(Tensor._wrap, batching.take_batch(x, index))
                structure = predict_step(batch)
                batch_out = [np.asarray(o) for o in nest.flatten(structure)]
                if dist:  # every rank's share, in order, and the global batch it fills
                    gathered = [dist.gather(o) for o in batch_out]
                    batch_out, index = [o for o, _ in gathered], gathered[0][1]
                if out is None:
                    out = [np.empty((n,) + o.shape[1:], o.dtype) for o in batch_out]
                for whole, part in zip(out, batch_out):
                    whole[index] = part
                outputs.append(batch_out)
            cbs.call("on_predict_batch_end", end,
                     {"outputs": nest.pack_sequence_as(structure, _joined(outputs))})
        cbs.call("on_predict_end", {})
        return nest.pack_sequence_as(structure, out) if nest.is_nested(structure) else out[0]

    def _predict_dataset(self, dataset, batch_size, verbose, steps, callbacks):
        data = data_adapter.adapt(dataset, None, batch_size, "predict", targets=False)
        steps = data.steps_up_to(steps)
        cbs = self._callbacks(callbacks, None, _verbosity(verbose),
                              {"verbose": _verbosity(verbose), "epochs": 1, "steps": steps})
        self._prepare_loop(data.sample_x())
        predict_step = self._step_function("predict_step")
        outs = []
        cbs.call("on_predict_begin", {})
        for begin, end, execution in self._executions(itertools.islice(data.batches(), steps)):
            cbs.call("on_predict_batch_begin", begin, {})
            first = len(outs)
            outs.extend(np.asarray(predict_step(batch)) for batch in execution)
            cbs.call("on_predict_batch_end", end, {"outputs": _joined(outs[first:])})
        cbs.call("on_predict_end", {})
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One ``train_step`` on the given batch; returns its loss (and metrics)."""
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "train_on_batch", locals())
        self._require_compiled("train_on_batch")
        x, y = batching.check_data(x, y, "train_on_batch")
        sample_weight = batching.check_sample_weight(sample_weight, y, "train_on_batch")
        if class_weight is not None:
            sample_weight = batching.class_weight_to_sample_weights(y, class_weight)
        self.reset_metrics()
        self._train_weights = None
        self._prepare_loop(x)
        step = self._step_function("train_step")
        logs = step(_batch(x, y, slice(None), sample_weight))
        return self._results(_as_floats(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "test_on_batch", locals())
        self._require_compiled("test_on_batch")
        x, y = batching.check_data(x, y, "test_on_batch")
        sample_weight = batching.check_sample_weight(sample_weight, y, "test_on_batch")
        self.reset_metrics()
        self._prepare_loop(x)
        step = self._step_function("test_step")
        logs = step(_batch(x, y, slice(None), sample_weight))
        return self._results(_as_floats(logs), return_dict)

    def predict_on_batch(self, x):
        if _distribute.replicates(self):  # MirroredStrategy: on every replica thread
            return _distribute.replicated(self, "predict_on_batch", locals())
        x, _ = batching.check_data(x, None, "predict_on_batch")
        self._prepare_loop(x)
        out = self._step_function("predict_step")(nest.map_structure(Tensor._wrap, x))
        return nest.map_structure(np.asarray, out)

    def _executions(self, batches):
        """``(begin, end, batches of one execution)`` from the iterable ``batches``, in
        executions of ``steps_per_execution`` (see :meth:`compile`); ``end`` is
        ``begin + steps_per_execution - 1`` even for a last, shorter execution, as Keras
        reports it. Lazy: an execution's batches are taken as its steps run."""
        n = self.steps_per_execution
        batches = iter(batches)
        begin = 0
        for first in batches:
            yield begin, begin + n - 1, itertools.chain((first,), itertools.islice(batches, n - 1))
            begin += n

    @staticmethod
    def _executor(step, dist):
        """What runs one execution: ``step`` on each of its batches, then the logs of the
        last as floats (under a strategy, reduced over the ranks once per execution)."""
        def execute(batches):
            for batch in batches:
                logs = step(batch)
            return _as_floats(dist.reduced_logs(logs) if dist else logs)
        return execute

    def _prepare_loop(self, x):
        """Builds the model for ``x`` (a trace must not be the place weights are made) and
        lets the compiled steps see any change of weights."""
        if not self.built:
            self._build_once(nest.map_structure(lambda a: (None,) + tuple(a.shape[1:]), x))
        if self._jit is not None:
            self._jit.refresh()

    def _results(self, logs, return_dict):
        if return_dict:
            return dict(logs)
        names = ordered_results(self, logs)
        if len(names) == 1:
            return logs[names[0]]
        return [logs[name] for name in names]

    def _callbacks(self, callbacks, history, verbose, params):
        callbacks, verbose = _distribute.filter_callbacks(self, list(callbacks or []), verbose)
        if history is not None:
            callbacks.append(history)
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            callbacks.append(ProgbarLogger())
        return CallbackList(callbacks, self, params)



def _batch(x, y, index, sample_weight=None):
    """One batch as tensors: ``(x, y)``, or ``(x, y, sample_weight)`` when weighted."""
    parts = (x, y) if sample_weight is None else (x, y, sample_weight)
    return tuple(None if part is None else
                 nest.map_structure(Tensor._wrap, batching.take_batch(part, index))
                 for part in parts)


def _joined(outputs):
    """The outputs of an execution's steps (one per step; a flat list of arrays each, or one
    array) joined along the batch axis; one step's as they are."""
    if len(outputs) == 1:
        return outputs[0]
    if isinstance(outputs[0], list):
        return [np.concatenate(parts, axis=0) for parts in zip(*outputs)]
    return np.concatenate(outputs, axis=0)


def _as_floats(logs):
    """A step's logs as ``{name: float}`` (an overridden step may return tensors, or a
    dict of results, which is spread out as Keras does)."""
    out = {}
    for name, value in logs.items():
        if isinstance(value, dict):
            out.update(_as_floats(value))
        else:
            out[name] = float(value)
    return out


def _verbosity(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2; received {verbose!r}")
    return verbose


def _validates(epoch, validation_freq):
    """Whether epoch ``epoch`` (0-based) ends with validation: every ``validation_freq``
    epochs, or the (1-based) epochs listed."""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _validation_plan(val, validation_freq):
    """What fit's validation will do, in words the ranks compare before training."""
    if val is None:
        return "none"
    if isinstance(validation_freq, int):
        return f"every {validation_freq} epochs"
    return f"after epochs {list(validation_freq)}"


def _unpack_validation(data):
    """``(x, y, sample_weight)`` from ``validation_data=(x, y)`` or ``(x, y, weights)``."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("fit: validation_data must be a pair (x_val, y_val) or a triple "
                         "(x_val, y_val, val_sample_weight)")
    x, y = batching.check_data(data[0], data[1], "fit (validation_data)")
    weights = data[2] if len(data) == 3 else None
    return x, y, batching.check_sample_weight(weights, y, "fit (validation_data)")
