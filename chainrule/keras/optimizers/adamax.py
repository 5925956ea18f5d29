"""Adamax: Adam with the infinity norm in place of the second moment."""

import math

import numpy as np

from ... import ops
from ...variable import Variable
from .optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax with Keras 3's rule.

    With m and u starting at 0 and t the step number (1 for the first step):

        m <- m + (1 - beta_1) * (g - m)
        u <- max(beta_2 * u, |g|)
        w <- w - lr * m / ((1 - beta_1^t) * (u + epsilon))

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="adamax", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        # lr / (1 - beta_1^t), computed once per step in float64.
        self._alpha = Variable(np.float32(0), trainable=False, name=f"{self.name}/alpha")

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
            self.add_slot(var, "norm")
        super().build(var_list)

    def _prepare_step(self, learning_rate):
        t = int(self.iterations._value) + 1
        self._alpha.assign(np.float32(learning_rate / (1.0 - math.pow(self.beta_1, t))))

    def update_step(self, gradient, variable, learning_rate):
        m, u = self.slot(variable, "momentum"), self.slot(variable, "norm")
        m.assign_add((gradient - m) * (1 - self.beta_1))
        u.assign(ops.maximum(u * self.beta_2, ops.abs(gradient)))
        variable.assign_sub(m * ops.cast(self._alpha, variable.dtype) / (u + self.epsilon))

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        formula = (f"m <- m + {1 - self.beta_1:g} * (g - m)\n"
                   f"u <- max({self.beta_2:g} * u, |g|)\n"
                   f"w <- w - lr * m / ((1 - {self.beta_1:g}^t) * (u + eps))   "
                   f"(eps = {self.epsilon:g})")
        words = ("Adam with the running maximum of |g| (decayed) in place of the root of the "
                 "mean squared gradient.")
        torch = "torch.optim.Adamax: the same rule, with lr=0.002 and eps=1e-8 by default."
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
