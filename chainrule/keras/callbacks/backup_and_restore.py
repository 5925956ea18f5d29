"""BackupAndRestore: resume a killed fit from its last completed epoch."""

import os

from .. import saving
from .callback import Callback


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
        state = saving.restore_checkpoint(self.model, self.path)
        self.model._resume_epoch = int(state["epoch"]) + 1
        self.model._fit_seed = int(state["fit_seed"])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.save_checkpoint(self.model, self.path, {"epoch": epoch,
                                                       "fit_seed": self.model._fit_seed})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
