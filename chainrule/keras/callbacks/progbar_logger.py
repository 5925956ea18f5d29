"""ProgbarLogger: the progress lines of fit, evaluate and predict."""

import sys

from ..utils.progbar import Progbar
from .callback import Callback


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

    def _count(self, batch):
        """Steps done after ``batch``: under ``steps_per_execution`` the last execution's
        end index runs past the last batch (as Keras reports it); the bar stops at the end."""
        steps = self.params.get("steps")
        self._seen = batch + 1 if steps is None else min(batch + 1, steps)
        return self._seen

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(self._count(batch), list((logs or {}).items()), finalize=False)

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
            self._bar.update(self._count(batch), list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if self._mode == "test":
            self._bar.update(self._seen, list((logs or {}).items()), finalize=True)
            self._mode = "train"

    def on_predict_begin(self, logs=None):
        self._new_bar(self.params.get("steps"))
        self._seen = 0

    def on_predict_batch_end(self, batch, logs=None):
        self._bar.update(self._count(batch), finalize=False)

    def on_predict_end(self, logs=None):
        self._bar.update(self._seen, finalize=True)
