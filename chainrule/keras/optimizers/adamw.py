"""AdamW: Adam with decoupled weight decay on by default."""

from .adam import Adam


class AdamW(Adam):
    """Adam (see :class:`Adam`) with decoupled weight decay, Keras's default 0.004.

    Before each step every weight shrinks by the decay, then Adam's update follows:

        w <- w - lr * weight_decay * w
        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g² - v)
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: default 0.001.
        weight_decay: default 0.004 (must not be None).
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        amsgrad: default False.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number (default 0.004); for no "
                             "decay use keras.optimizers.Adam")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        text = super().explain()
        return text.replace("Compared with PyTorch: ", "Compared with PyTorch (torch.optim."
                            "AdamW decays by lr * weight_decay * w too, default 0.01): ", 1)
