"""LambdaCallback: a callback made of functions."""

from .callback import Callback


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
