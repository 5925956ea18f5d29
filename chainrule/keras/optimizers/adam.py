"""Adam: momentum on the gradient and on its square, with bias correction."""

import math

import numpy as np

from ... import ops
from ...variable import Variable
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam in Keras's "epsilon hat" form.

    With moments m, v starting at 0 and t the step number (1 for the first step):

        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g² - v)
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)

    (epsilon is added to the uncorrected sqrt(v), so it acts as a slightly different
    constant than in the paper's form.) ``amsgrad=True`` divides by the running maximum
    of v instead of v.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        amsgrad: default False.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon, self.amsgrad = float(epsilon), bool(amsgrad)
        # The step size with both bias corrections, computed once per step in float64.
        self._alpha = Variable(np.float32(0), trainable=False, name=f"{self.name}/alpha")

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
            self.add_slot(var, "velocity")
            if self.amsgrad:
                self.add_slot(var, "velocity_hat")
        super().build(var_list)

    def _prepare_step(self, learning_rate):
        t = int(self.iterations._value) + 1
        self._alpha.assign(np.float32(learning_rate * math.sqrt(1 - self.beta_2 ** t)
                                      / (1 - self.beta_1 ** t)))

    def update_step(self, gradient, variable, learning_rate):
        m, v = self.slot(variable, "momentum"), self.slot(variable, "velocity")
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((ops.square(gradient) - v) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = self.slot(variable, "velocity_hat")
            v_hat.assign(ops.maximum(v_hat, v))
            v = v_hat
        alpha = ops.cast(self._alpha, variable.dtype)
        variable.assign_sub(m / (ops.sqrt(v) + self.epsilon) * alpha)

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        b1, b2 = f"{self.beta_1:g}", f"{self.beta_2:g}"
        formula = (f"m <- m + {1 - self.beta_1:g} * (g - m)\n"
                   f"v <- v + {1 - self.beta_2:g} * (g² - v)\n"
                   + ("v_max <- max(v_max, v)\n" if self.amsgrad else "")
                   + f"alpha = lr * sqrt(1 - {b2}^t) / (1 - {b1}^t)\n"
                   f"w <- w - alpha * m / (sqrt({'v_max' if self.amsgrad else 'v'}) + eps)\n"
                   f"(eps = {self.epsilon:g}; t counts steps from 1; m, v start at 0)")
        words = ("Keeps running means of the gradient (m) and of its square (v), corrects "
                 "their bias towards 0 in the step size alpha, and moves each weight by "
                 "about alpha in the direction of m" + (" (AMSGrad: v never decreases)"
                                                        if self.amsgrad else "") + ".")
        torch = ("torch.optim.Adam adds eps to the bias-corrected root, lr * m_hat / "
                 "(sqrt(v_hat) + eps) with eps=1e-8; here eps is added to the uncorrected "
                 "sqrt(v) (the paper's 'epsilon hat' form) with eps=1e-7. In torch's form this "
                 "eps acts as eps / sqrt(1 - beta_2^t): about 32 times larger at the first "
                 "step with beta_2 = 0.999, the same once t is large.")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
