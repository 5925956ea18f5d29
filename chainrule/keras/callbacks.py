"""Callbacks: objects whose hooks ``fit``, ``evaluate`` and ``predict`` call.

The hook names are Keras's: ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_begin/end``, ``on_test_batch_begin/end``,
``on_predict_begin/end``, ``on_predict_batch_begin/end``. ``logs`` is a dict of floats
(``{"accuracy": ..., "loss": ...}``, sorted by name). A callback stops training by setting
``self.model.stop_training = True``; fit checks it after every batch.
"""

import math
import os
import sys

from .utils.progbar import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "TerminateOnNaN", "ModelCheckpoint", "BackupAndRestore"]


class Callback:
    """Base class: override the hooks you need; ``self.model`` and ``self.params``
    (``{"verbose", "epochs", "steps"}``) are set before training starts."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList:
    """Calls a hook on every callback in order (what fit talks to)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class History(Callback):
    """Records the epoch-end logs: ``history.history["loss"]`` is one value per epoch.
    fit adds one to every run and returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        # fit(..., diagnostics=True) fills these (see chainrule.keras.diagnostics).
        self.diagnostics = {}
        self.diagnosis = None

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name in sorted(logs or {}):
            self.history.setdefault(name, []).append(logs[name])
        self.history = dict(sorted(self.history.items()))

    def plot(self, path, title=None):
        """Draws the loss and metric curves (training and validation) into a PNG at
        ``path`` and returns the path; needs matplotlib. After ``fit(...,
        diagnostics=True)`` the picture adds the per-layer diagnostics."""
        if self.diagnostics:
            from .diagnostics import plot_diagnostics
            return plot_diagnostics(self, path, title=title)
        from ..plotting import plot_history
        return plot_history(self.history, path, title=title)


class ProgbarLogger(Callback):
    """Prints "Epoch k/N" (when N > 1) and a progress line per epoch, per evaluation and per
    prediction. fit adds it when ``verbose`` is not 0."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._bar = None
        self._mode = "train"

    def _new_bar(self, steps):
        self._bar = Progbar(steps, verbose=self.params.get("verbose", 1), stream=self.stream)

    def _stream(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        if self.params.get("epochs", 1) > 1 and self.params.get("verbose", 1):
            stream = self._stream()
            stream.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
            stream.flush()
        self._new_bar(self.params.get("steps"))
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self._bar.update(self._seen, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return  # validation during fit is silent; its values join the epoch line
        self._new_bar(self.params.get("steps"))
        self._seen = 0
        self._mode = "test"

    def on_test_batch_end(self, batch, logs=None):
        if self._mode == "test":
            self._seen = batch + 1
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if self._mode == "test":
            self._bar.update(self._seen, list((logs or {}).items()), finalize=True)
            self._mode = "train"

    def on_predict_begin(self, logs=None):
        self._new_bar(self.params.get("steps"))
        self._seen = 0

    def on_predict_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        self._bar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        self._bar.update(self._seen, finalize=True)


class TerminateOnNaN(Callback):
    """Stops training as soon as the loss becomes NaN or infinite, and says at which batch."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.stopped_at = None  # (epoch, batch) where the invalid loss appeared

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_at = (getattr(self, "_epoch", 0), batch)
            stream = self.stream if self.stream is not None else sys.stdout
            stream.write(f"Batch {batch}: Invalid loss ({loss}), terminating training "
                         f"(epoch {self.stopped_at[0] + 1}, batch {batch})\n")
            stream.flush()
            self.model.stop_training = True


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the log entry to watch, default ``"val_loss"``.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for names ending in "acc",
            "accuracy" or "auc", else min).
        baseline: a value the monitor must beat for an epoch to reset the patience.
        restore_best_weights: at the end, put back the weights of the best epoch.
        start_from_epoch: epochs to wait before watching at all.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max'; received {mode!r}")
        if mode == "auto":
            mode = "max" if monitor.endswith(("acc", "accuracy", "auc")) else "min"
        self.monitor, self.mode, self.patience, self.verbose = monitor, mode, patience, verbose
        self.min_delta = abs(min_delta)
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improves(self, value, reference):
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            available = ", ".join(sorted(logs or {}))
            import warnings
            warnings.warn(f"EarlyStopping: the monitored value {self.monitor!r} is not in the "
                          f"logs (available: {available})", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model at the end of every epoch (or only when ``monitor`` improves).

    Saving itself is the model's job: this callback calls ``model.save(path)`` (or
    ``model.save_weights(path)`` with ``save_weights_only=True``). ``filepath`` may hold
    format fields filled from the epoch and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if mode == "auto":
            mode = "max" if monitor.endswith(("acc", "accuracy", "auc")) else "min"
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf

    def set_model(self, model):
        method = "save_weights" if self.save_weights_only else "save"
        if not callable(getattr(model, method, None)):
            raise TypeError(f"ModelCheckpoint needs model.{method}(path), which "
                            f"{type(model).__name__} does not have")
        super().set_model(model)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or not (value < self.best if self.mode == "min" else value > self.best):
                return
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)


class BackupAndRestore(Callback):
    """Lets a fit that was killed carry on from its last completed epoch.

    At the end of every epoch the model's weights, the optimizer's state, the epoch and the
    shuffling seed are written (atomically) to ``backup_dir``. When ``fit`` starts and a
    backup is there, it is put back and training continues with the next epoch, on the
    same batches the uninterrupted run would have seen, so the final weights are the same.
    (Dropout masks are drawn afresh, so models with Dropout resume statistically, not
    bit for bit.) A fit that finishes deletes the backup unless ``delete_checkpoint=False``.
    """

    FILENAME = "backup.chainrule"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: only save_freq='epoch' is supported; "
                             f"received {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.path = os.path.join(self.backup_dir, self.FILENAME)

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.path):
            return
        from . import saving
        state = saving.restore_checkpoint(self.model, self.path)
        self.model._resume_epoch = int(state["epoch"]) + 1
        self.model._fit_seed = int(state["fit_seed"])

    def on_epoch_end(self, epoch, logs=None):
        from . import saving
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.save_checkpoint(self.model, self.path, {"epoch": epoch,
                                                       "fit_seed": self.model._fit_seed})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
