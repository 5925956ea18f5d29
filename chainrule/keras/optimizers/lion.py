"""Lion: the sign of an interpolated momentum."""

from ... import ops
from .optimizer import Optimizer


class Lion(Optimizer):
    """Lion with Keras 3's rule.

    With m starting at 0:

        w <- w - lr * sign(beta_1 * m + (1 - beta_1) * g)
        m <- beta_2 * m + (1 - beta_2) * g

    Every entry moves by exactly lr (or 0), so Lion wants a learning rate 3 to 10 times
    smaller than Adam's.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.99.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name="lion", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1]; received beta_1={beta_1}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        m = self.slot(variable, "momentum")
        direction = ops.sign(m * self.beta_1 + gradient * (1.0 - self.beta_1))
        variable.assign_sub(direction * ops.cast(learning_rate, variable.dtype))
        m.assign(m * self.beta_2 + gradient * (1.0 - self.beta_2))

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        formula = (f"w <- w - lr * sign({self.beta_1:g} * m + {1 - self.beta_1:g} * g)\n"
                   f"m <- {self.beta_2:g} * m + {1 - self.beta_2:g} * g")
        words = "Moves every weight by lr in the direction of the sign of a momentum."
        return self._explanation(words, formula, None)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
