"""TensorBoard: the logs as TensorBoard event files (through tensorboardX)."""

import os
import time

from .callback import Callback


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
        self._epoch_start, self._epoch_steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._train_step += 1  # one per call, as Keras counts (per execution of N steps)
        steps = (self.params or {}).get("steps")  # the epoch's steps done, by the batch index
        self._epoch_steps = batch + 1 if steps is None else min(batch + 1, steps)
        every = 1 if self.update_freq == "batch" else self.update_freq
        if every != "epoch" and self._train_step % every == 0:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", value, self._train_step)

    def on_epoch_end(self, epoch, logs=None):
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
