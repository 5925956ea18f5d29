"""ModelCheckpoint: save the model during training."""

import math
import os
import re
import string
import warnings

from .callback import Callback


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
        self._epoch, self._batches_since_save, self._last_batch = 0, 0, None
        self._checked = self._warned = False

    def set_model(self, model):
        method = "save_weights" if self.save_weights_only else "save"
        if not callable(getattr(model, method, None)):
            raise TypeError(f"ModelCheckpoint needs model.{method}(path), which "
                            f"{type(model).__name__} does not have")
        super().set_model(model)

    def on_train_begin(self, logs=None):
        self._checked = self._warned = False
        self._batches_since_save, self._last_batch = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self._checked:
            self._checked = True
            self._check_fields(logs or {})
        if self.save_freq != "epoch":
            # batches since the last call: 1, or steps_per_execution (whose hooks see every
            # execution's last index), restarting at each epoch
            last = self._last_batch
            self._batches_since_save += batch + 1 if last is None or batch <= last else \
                batch - last
            self._last_batch = batch
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
