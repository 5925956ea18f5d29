"""TerminateOnNaN: stop at the first invalid loss."""

import math
import sys

from .callback import Callback


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
