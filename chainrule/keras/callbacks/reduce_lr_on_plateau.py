"""ReduceLROnPlateau: lower the learning rate when a monitored value stops improving."""

import math
import warnings

import numpy as np

from .callback import Callback


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
