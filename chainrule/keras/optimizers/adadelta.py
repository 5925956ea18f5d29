"""Adadelta: steps scaled by the ratio of running RMS of updates and of gradients."""

from ... import ops
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta with Keras 3's rule.

    With accumulators a (squared gradients) and d (squared updates) starting at 0:

        a <- rho * a + (1 - rho) * g²
        delta = -sqrt(d + epsilon) * g / sqrt(a + epsilon)
        d <- rho * d + (1 - rho) * delta²
        w <- w + lr * delta

    Args:
        learning_rate: default 0.001 (the paper's rule is lr = 1).
        rho: default 0.95.
        epsilon: default 1e-7.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name="adadelta",
                 **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "accumulated_grad")
            self.add_slot(var, "accumulated_delta_var")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        a = self.slot(variable, "accumulated_grad")
        d = self.slot(variable, "accumulated_delta_var")
        rho = self.rho
        a.assign(a * rho + ops.square(gradient) * (1 - rho))
        delta = -(ops.sqrt(d + self.epsilon) * gradient) / ops.sqrt(a + self.epsilon)
        d.assign(d * rho + ops.square(delta) * (1 - rho))
        variable.assign_add(delta * ops.cast(learning_rate, variable.dtype))

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        formula = (f"a <- {self.rho:g} * a + {1 - self.rho:g} * g²\n"
                   f"delta = -sqrt(d + eps) * g / sqrt(a + eps)   (eps = {self.epsilon:g})\n"
                   f"d <- {self.rho:g} * d + {1 - self.rho:g} * delta²\n"
                   f"w <- w + lr * delta")
        words = ("Scales each step by the RMS of past updates over the RMS of past "
                 "gradients, so the step has the units of the weights.")
        torch = ("torch.optim.Adadelta: the same rule with lr=1.0, rho=0.9 and eps=1e-6 by "
                 "default; Keras's lr=0.001 makes much smaller steps.")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
