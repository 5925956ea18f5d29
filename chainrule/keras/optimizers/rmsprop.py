"""RMSprop: divide each step by a running root mean square of the gradients."""


from ... import ops
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop with Keras's rule (epsilon *inside* the square root).

    With v the running mean of g² (starting at 0):

        v <- rho * v + (1 - rho) * g²
        w <- w - lr * g / sqrt(v + epsilon)

    ``centered=True`` also keeps the running mean ḡ of g and divides by
    ``sqrt(v - ḡ² + epsilon)``. With ``momentum`` μ > 0 the step goes through a velocity:
    ``m <- μ * m + lr * g / sqrt(...)``, ``w <- w - m``.

    Args:
        learning_rate: default 0.001.
        rho: default 0.9.
        momentum: default 0.0.
        epsilon: default 1e-7.
        centered: default False.

    One step from w = 10 with g = 10 and lr = 0.1: v = 10, w = 10 - 1 / sqrt(10 + 1e-7):

    >>> import chainrule as cr
    >>> from chainrule.keras import optimizers
    >>> w = cr.Variable(10.0)
    >>> _ = optimizers.RMSprop(learning_rate=0.1).apply_gradients([(cr.constant(10.0), w)])
    >>> round(float(w), 6)
    9.683772
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name="rmsprop", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "velocity")
            if self.momentum:
                self.add_slot(var, "momentum")
            if self.centered:
                self.add_slot(var, "average_gradient")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        v = self.slot(variable, "velocity")
        v.assign(v * self.rho + ops.square(gradient) * (1 - self.rho))
        if self.centered:
            average = self.slot(variable, "average_gradient")
            average.assign(average * self.rho + gradient * (1 - self.rho))
            denominator = v - ops.square(average) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = gradient / ops.sqrt(denominator) * lr
        if self.momentum:
            m = self.slot(variable, "momentum")
            m.assign(m * self.momentum + increment)
            variable.assign_sub(m)
        else:
            variable.assign_sub(increment)

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        denominator = "sqrt(v - a² + eps)" if self.centered else "sqrt(v + eps)"
        formula = (f"v <- {self.rho:g} * v + {1 - self.rho:g} * g²\n"
                   + (f"a <- {self.rho:g} * a + {1 - self.rho:g} * g\n" if self.centered else "")
                   + (f"m <- {self.momentum:g} * m + lr * g / {denominator}\nw <- w - m"
                      if self.momentum else f"w <- w - lr * g / {denominator}")
                   + f"\n(eps = {self.epsilon:g}, v starts at 0)")
        words = ("Divides each step by the root of a running mean of squared gradients, so "
                 "every weight moves by about lr whatever its gradient's scale"
                 + (", centred by the running mean gradient a" if self.centered else "")
                 + (f", through a velocity m with momentum {self.momentum:g}" if self.momentum
                    else "") + ".")
        torch = ("torch.optim.RMSprop puts eps outside the root, lr * g / (sqrt(v) + eps), "
                 "with eps=1e-8, alpha (rho)=0.99 and lr=0.01 by default; here eps sits "
                 "inside, sqrt(v + eps), which damps steps for gradients below about "
                 "sqrt(eps) (up to 10x at |g| = 1e-4 with the defaults).")
        if self.momentum:
            torch += (" With momentum, torch keeps the buffer without lr (m <- mu m + "
                      "g / (sqrt(v) + eps), w <- w - lr m); here lr is inside m, which "
                      "differs when lr changes during training.")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
