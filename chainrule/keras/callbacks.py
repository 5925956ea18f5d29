"""Callbacks: objects whose hooks ``fit``, ``evaluate`` and ``predict`` call.

The hook names are Keras's: ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_begin/end``, ``on_test_batch_begin/end``,
``on_predict_begin/end``, ``on_predict_batch_begin/end``. ``logs`` is a dict of floats
(``{"accuracy": ..., "loss": ...}``, sorted by name). A callback stops training by setting
``self.model.stop_training = True``; fit checks it after every batch.
"""

import math
import os
import re
import string
import sys
import warnings

import numpy as np

from .utils.progbar import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "TerminateOnNaN", "ModelCheckpoint", "BackupAndRestore", "ReduceLROnPlateau",
           "LambdaCallback", "CSVLogger", "TensorBoard"]


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
    """Saves the model at the end of every epoch, or every ``save_freq`` batches, or only
    when ``monitor`` improves (``save_best_only=True``).

    Saving itself is the model's job: this callback calls ``model.save(path)`` (or
    ``model.save_weights(path)`` with ``save_weights_only=True``). ``filepath`` may hold
    format fields filled from the epoch (``{epoch}``, counted from 1), the batch (``{batch}``,
    with an integer ``save_freq``) and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.

    Nothing is skipped in silence: after the first training batch the fields are checked
    against what the fit logs (a ValueError names any missing one), and a monitored value
    that is not logged is warned about once, naming the keys that are.

    Args:
        monitor: the log entry ``save_best_only`` compares, default ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max when the name holds "acc" or "auc" or
            starts with "fmeasure", else min); an unknown mode warns and means auto.
        save_freq: ``"epoch"``, or an integer: save after that many batches (counted across
            epochs; only training values are logged then).
        initial_value_threshold: the value a first checkpoint must beat (best-only).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number "
                             f"of batches; received {save_freq!r}")
        self.save_freq = save_freq
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"ModelCheckpoint: mode {mode!r} is not 'auto', 'min' or 'max'; "
                          f"using 'auto'", stacklevel=2)
            mode = "auto"
        if mode == "auto":
            mode = "max" if ("acc" in monitor or "auc" in monitor
                             or monitor.startswith("fmeasure")) else "min"
        self.mode = mode
        self.best = initial_value_threshold if initial_value_threshold is not None else \
            (math.inf if mode == "min" else -math.inf)
        self._fields = _format_fields(self.filepath)
        self._epoch, self._batches_since_save = 0, 0
        self._checked = self._warned = False

    def set_model(self, model):
        method = "save_weights" if self.save_weights_only else "save"
        if not callable(getattr(model, method, None)):
            raise TypeError(f"ModelCheckpoint needs model.{method}(path), which "
                            f"{type(model).__name__} does not have")
        super().set_model(model)

    def on_train_begin(self, logs=None):
        self._checked = self._warned = False
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self._checked:
            self._checked = True
            self._check_fields(logs or {})
        if self.save_freq != "epoch":
            self._batches_since_save += 1
            if self._batches_since_save >= self.save_freq:
                self._batches_since_save = 0
                self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _expected_keys(self, batch_logs):
        """What the logs a save sees will hold, or None when that cannot be known (a loop
        other than fit drives the callback)."""
        if not getattr(self.model, "_in_fit", False):
            return None
        validates = getattr(self.model, "_fit_validates", False)
        keys = set(batch_logs)
        if self.save_freq == "epoch" and validates:
            keys |= {f"val_{key}" for key in batch_logs}
        return keys

    def _why_missing(self, names):
        if not any(name.startswith("val_") for name in names):
            return ""
        if self.save_freq != "epoch":
            return (f"; with save_freq={self.save_freq} a checkpoint is written mid-epoch, "
                    f"where only training values exist")
        return "; val_ values need fit(..., validation_data=(x, y)) or validation_split"

    def _check_fields(self, batch_logs):
        keys = self._expected_keys(batch_logs)
        if keys is None:
            return
        extra = {"epoch"} | ({"batch"} if self.save_freq != "epoch" else set())
        missing = [f for f in self._fields if f not in keys | extra]
        if missing:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} uses "
                f"{', '.join('{' + f + '}' for f in missing)}, which this fit does not log "
                f"(it logs: {', '.join(sorted(keys | extra))}){self._why_missing(missing)}")
        if self.save_best_only and self.monitor not in keys:
            self._warn_unmonitored(keys)

    def _warn_unmonitored(self, keys):
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f"ModelCheckpoint: save_best_only=True monitors {self.monitor!r}, which this fit "
            f"does not log (available: {', '.join(sorted(keys))}); no checkpoint will be "
            f"saved{self._why_missing([self.monitor])}, or pick another monitor",
            stacklevel=3)

    def _path(self, epoch, batch, logs):
        fill = dict(logs)
        if batch is not None and "batch" not in logs:
            fill["batch"] = batch + 1
        try:
            return self.filepath.format(epoch=epoch + 1, **fill)
        except (KeyError, IndexError) as e:
            raise KeyError(f"ModelCheckpoint: cannot fill filepath {self.filepath!r}: no "
                           f"{e} among epoch and the logs ({', '.join(sorted(fill))})") from None

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                self._warn_unmonitored(set(logs))
                return
            improved = current < self.best if self.mode == "min" else current > self.best
            if not improved:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)


def _format_fields(filepath):
    """The names of the format fields in ``filepath`` (``{val_loss:.2f}`` gives val_loss)."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as e:
        raise ValueError(f"ModelCheckpoint: filepath {filepath!r} is not a valid format "
                         f"string ({e}); double any literal braces: {{{{ }}}}") from None
    fields = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not name or name.isdigit():
            raise ValueError(f"ModelCheckpoint: filepath {filepath!r} has a positional field "
                             f"{{{field}}}; name it ({{epoch}}, or a log key like {{val_loss}})")
        fields.append(name)
    return list(dict.fromkeys(fields))


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


def _is_max_mode(mode, monitor, name):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max'; received {mode!r}")
    if mode == "auto":
        return "acc" in monitor  # Keras's rule for this callback: accuracies go up
    return mode == "max"


class ReduceLROnPlateau(Callback):
    """Multiplies the optimizer's learning rate by ``factor`` when ``monitor`` has not
    improved (by more than ``min_delta``) for ``patience`` epochs, then waits
    ``cooldown`` epochs before watching again; never below ``min_lr``. The current rate
    is added to the epoch logs as ``learning_rate`` (so History records it)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0; received "
                             f"factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, min_lr
        self._max = _is_max_mode(mode, monitor, "ReduceLROnPlateau")
        self.mode = mode
        self._reset()

    def _reset(self):
        self.best = -math.inf if self._max else math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _better(self, current):
        if self._max:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            import warnings
            warnings.warn(f"ReduceLROnPlateau: the monitored value {self.monitor!r} is not in "
                          f"the logs (available: {', '.join(sorted(logs))})", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > float(np.float32(self.min_lr)):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs:
    ...)``. Any hook may be given by name (``on_train_batch_end``, ``on_test_begin``...);
    ``on_batch_begin``/``on_batch_end`` are the training-batch hooks."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        aliases = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}
        for name, fn in kwargs.items():
            hook = aliases.get(name, name)
            if hook not in self._HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; hooks are "
                                f"{', '.join(self._HOOKS)}")
            given[hook] = fn
        for hook, fn in given.items():
            if fn is not None:
                setattr(self, hook, fn)


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then the logs' values, sorted by name.
    ``append=True`` continues an existing file (without a second header)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file = self._writer = self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._header_written = exists
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        import csv
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                          delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: _csv_value(logs[k]) if k in logs else "NA" for k in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


def _csv_value(value):
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) > 0:
        return f"[{', '.join(map(str, np.ravel(value)))}]"
    return value


class TensorBoard(Callback):
    """Writes the logs as TensorBoard event files, through ``tensorboardX`` (``pip
    install chainrule[tensorboard]``): ``log_dir/train`` gets ``epoch_loss``,
    ``epoch_accuracy``... per epoch, ``log_dir/validation`` the ``val_`` values under the
    same tags, so TensorBoard draws them on one chart. ``update_freq="batch"`` (or an
    int N: every N batches) also writes ``batch_loss``... ``histogram_freq=N`` writes each
    weight's histogram every N epochs. Then run ``tensorboard --logdir <log_dir>``."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ImportError("TensorBoard needs the tensorboardX package: pip install "
                              "tensorboardX (or chainrule[tensorboard])") from None
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a "
                             f"positive int; received {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.update_freq = histogram_freq, update_freq
        self.write_steps_per_second = write_steps_per_second
        self._writers = {}
        self._train_step = 0

    def _writer(self, kind):
        if kind not in self._writers:
            from tensorboardX import SummaryWriter
            self._writers[kind] = SummaryWriter(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def on_train_begin(self, logs=None):
        self._train_step = 0

    def on_epoch_begin(self, epoch, logs=None):
        import time
        self._epoch_start, self._epoch_steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._train_step += 1
        self._epoch_steps += 1
        every = 1 if self.update_freq == "batch" else self.update_freq
        if every != "epoch" and self._train_step % every == 0:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", value, self._train_step)

    def on_epoch_end(self, epoch, logs=None):
        import time
        logs = logs or {}
        train, val = self._writer("train"), None
        for name, value in logs.items():
            if name.startswith("val_"):
                val = val or self._writer("validation")
                val.add_scalar(f"epoch_{name[4:]}", value, epoch)
            else:
                train.add_scalar(f"epoch_{name}", value, epoch)
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start
            train.add_scalar("epoch_steps_per_second", self._epoch_steps / max(elapsed, 1e-9), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for weight in self.model.weights:
                train.add_histogram(f"{weight.name}/histogram", weight.numpy(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        # evaluate() outside fit: the results go to the validation run, at step 0
        if self.model is not None and not getattr(self.model, "_in_fit", False):
            writer = self._writer("validation")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", value, self._train_step)
            writer.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
