"""The training half of ``keras.Model``: :class:`~.trainer.Trainer` (``compile``, ``fit``,
``evaluate``, ``predict`` and their steps), the compiled-loss and -metric rules
(:mod:`.compile_utils`) and the compiled steps (:mod:`.jit`)."""

from .trainer import Trainer

__all__ = ["Trainer"]
