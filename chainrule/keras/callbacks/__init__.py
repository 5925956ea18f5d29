"""Callbacks: objects whose hooks ``fit``, ``evaluate`` and ``predict`` call.

The hook names are Keras's: ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_begin/end``, ``on_test_batch_begin/end``,
``on_predict_begin/end``, ``on_predict_batch_begin/end``. ``logs`` is a dict of floats
(``{"accuracy": ..., "loss": ...}``, sorted by name). A callback stops training by setting
``self.model.stop_training = True``; fit checks it after every batch.
"""

from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "TerminateOnNaN", "ModelCheckpoint", "BackupAndRestore", "ReduceLROnPlateau",
           "LambdaCallback", "CSVLogger", "TensorBoard", "LearningRateScheduler"]
