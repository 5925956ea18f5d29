"""LearningRateScheduler: set the learning rate at the start of every epoch."""

import inspect

import numpy as np

from .callback import Callback


class LearningRateScheduler(Callback):
    """At the start of each epoch, sets the optimizer's learning rate to
    ``schedule(epoch, lr)`` (``epoch`` counting from 0, ``lr`` the current rate as a
    float), or ``schedule(epoch)`` for a function of one argument. The result must be a
    float. The rate is added to the epoch logs as ``learning_rate`` (so History records
    it); ``verbose=1`` prints each change.

    >>> from chainrule import keras
    >>> halve = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr / 2)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function of (epoch, "
                            f"lr) or of epoch; received {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def _takes_rate(self):
        try:
            inspect.signature(self.schedule).bind(0, 0.0)
            return True
        except TypeError:
            return False
        except ValueError:  # no signature to read (a builtin): try the two-argument form
            return True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError("LearningRateScheduler: the model's optimizer must have a "
                             "learning_rate attribute (compile the model first)")
        if self._takes_rate():
            rate = self.schedule(epoch, float(np.asarray(optimizer.learning_rate.numpy())))
        else:
            rate = self.schedule(epoch)
        if not isinstance(rate, (float, np.float32, np.float64)):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float; it "
                             f"returned {rate!r} of type {type(rate).__name__} for epoch "
                             f"{epoch}")
        optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate.numpy()))
