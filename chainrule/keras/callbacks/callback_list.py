"""CallbackList: what the training loops talk to."""


class CallbackList:
    """Calls a hook on every callback in order (what fit talks to)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)
