"""Nadam: Adam with Nesterov momentum and Dozat's momentum schedule."""

import numpy as np

from ... import ops
from ...variable import Variable
from .optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam with Keras 3's rule.

    With moments m, v starting at 0, t the step number (1 for the first step), the
    momentum schedule ``u_t = beta_1 * (1 - 0.5 * 0.96^t)`` and its running product
    ``P_t = u_1 * ... * u_t`` (state kept by the optimizer, starting at 1):

        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g² - v)
        m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)
        v_hat = v / (1 - beta_2^t)
        w <- w - lr * m_hat / (sqrt(v_hat) + epsilon)

    The step's scalars are computed once per step in float64 and used in float32.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="nadam", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self._u_product = Variable(np.float32(1.0), trainable=False,
                                   name=f"{self.name}/u_product")
        # The step's coefficients of m, of g and of v (see the docstring).
        self._coefficients = Variable(np.zeros(3, np.float32), trainable=False,
                                      name=f"{self.name}/coefficients")

    @property
    def variables(self):
        """As Optimizer.variables, then the momentum schedule's product (Keras's order)."""
        return super().variables + [self._u_product]

    @property
    def _state_after_slots(self):
        # What a Keras file holds after the slots, once the optimizer is built.
        return [self._u_product]

    def _reset_slots(self):
        super()._reset_slots()
        self._u_product.assign(np.float32(1.0))

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
            self.add_slot(var, "velocity")
        super().build(var_list)

    def _prepare_step(self, learning_rate):
        t = int(self.iterations._value) + 1
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96 ** t)
        u_next = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        product = float(np.float32(float(self._u_product._value) * u_t))
        self._u_product.assign(np.float32(product))
        self._coefficients.assign(np.array(
            [u_next / (1.0 - product * u_next), (1.0 - u_t) / (1.0 - product),
             1.0 / (1.0 - self.beta_2 ** t)], np.float32))

    def update_step(self, gradient, variable, learning_rate):
        m, v = self.slot(variable, "momentum"), self.slot(variable, "velocity")
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((ops.square(gradient) - v) * (1 - self.beta_2))
        c = ops.cast(self._coefficients, variable.dtype)
        m_hat = m * c[0] + gradient * c[1]
        variable.assign_sub(m_hat * ops.cast(learning_rate, variable.dtype)
                            / (ops.sqrt(v * c[2]) + self.epsilon))

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        formula = (f"m <- m + {1 - self.beta_1:g} * (g - m);  v <- v + {1 - self.beta_2:g} * "
                   f"(g² - v)\n"
                   f"u_t = {self.beta_1:g} * (1 - 0.5 * 0.96^t);  P_t = u_1 * ... * u_t\n"
                   f"m_hat = u_(t+1) * m / (1 - P_t * u_(t+1)) + (1 - u_t) * g / (1 - P_t)\n"
                   f"w <- w - lr * m_hat / (sqrt(v / (1 - {self.beta_2:g}^t)) + eps)   "
                   f"(eps = {self.epsilon:g})")
        words = ("Adam whose step looks one momentum update ahead (Nesterov), with a momentum "
                 "that warms up over the first steps.")
        torch = ("torch.optim.NAdam uses u_t = beta_1 * (1 - 0.5 * 0.96^(t * 0.004)) by "
                 "default (momentum_decay=0.004: a far slower warm-up) and eps=1e-8.")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
