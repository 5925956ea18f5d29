"""Stochastic gradient descent, with optional (Nesterov) momentum."""


from ... import ops
from .optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent: ``w <- w - lr * g``.

    With ``momentum`` μ > 0 a velocity m (starting at 0) is kept:

        m <- μ * m - lr * g
        w <- w + m                      (nesterov=False)
        w <- w + μ * m - lr * g         (nesterov=True, with the new m)

    Args:
        learning_rate: default 0.01.
        momentum: μ, default 0.0 (in [0, 1]).
        nesterov: default False.

    >>> import chainrule as cr
    >>> from chainrule.keras import optimizers
    >>> w = cr.Variable([1.0])
    >>> _ = optimizers.SGD(learning_rate=0.1).apply_gradients([(cr.constant([2.0]), w)])
    >>> w.numpy()
    array([0.8], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1]; received momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def build(self, var_list):
        if self.momentum:
            for var in var_list:
                self.add_slot(var, "momentum")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        step = gradient * ops.cast(learning_rate, variable.dtype)  # lr * g
        if not self.momentum:
            variable.assign_sub(step)
            return
        m = self.slot(variable, "momentum")
        m.assign(m * self.momentum - step)
        if self.nesterov:
            variable.assign_add(m * self.momentum - step)
        else:
            variable.assign_add(m)

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        if not self.momentum:
            return self._explanation(
                "Moves each weight against its gradient, by lr times the gradient.",
                "w <- w - lr * g", "the same rule as torch.optim.SGD without momentum "
                "(only the default learning rate may differ; it is 0.01 here).")
        mu = f"{self.momentum:g}"
        if self.nesterov:
            formula = f"m <- {mu} * m - lr * g\nw <- w + {mu} * m - lr * g   (Nesterov, new m)"
        else:
            formula = f"m <- {mu} * m - lr * g\nw <- w + m"
        words = (f"Keeps a velocity m, a decaying sum of past steps (momentum {mu}), and moves "
                 f"each weight by it" + (", looking one step ahead (Nesterov)" if self.nesterov
                                         else "") + ".")
        torch = ("torch.optim.SGD keeps the velocity without the learning rate, b <- mu * b "
                 "+ g and w <- w - lr * b (Nesterov: w <- w - lr * (g + mu * b)); here lr is "
                 "inside m. The trajectories are the same while lr is constant, and differ "
                 "when a schedule changes lr (torch rescales past steps, Keras does not).")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
