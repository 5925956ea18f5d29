"""FTRL-Proximal: per-coordinate rates with L1/L2 regularization in closed form."""

from ... import ops
from .optimizer import Optimizer


class Ftrl(Optimizer):
    """FTRL-Proximal with Keras 3's rule.

    With an accumulator n starting at ``initial_accumulator_value``, a linear term z
    starting at 0, p = ``-learning_rate_power`` (0.5 by default), l1 and l2 the
    regularization strengths and ``l2' = l2 + beta / (2 lr)``:

        g' = g + 2 * l2_shrinkage * w
        n' = n + g²
        z <- z + g' - (n'^p - n^p) / lr * w
        w <- (clip(z, -l1, l1) - z) / (n'^p / lr + 2 * l2')
        n <- n'

    Args:
        learning_rate: default 0.001.
        learning_rate_power: default -0.5 (must be <= 0).
        initial_accumulator_value: default 0.1 (must be >= 0).
        l1_regularization_strength, l2_regularization_strength,
        l2_shrinkage_regularization_strength: default 0.0 (each >= 0).
        beta: default 0.0.
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, name="ftrl", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        checks = (("initial_accumulator_value", initial_accumulator_value),
                  ("l1_regularization_strength", l1_regularization_strength),
                  ("l2_regularization_strength", l2_regularization_strength),
                  ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength))
        for arg, value in checks:
            if value < 0:
                raise ValueError(f"Ftrl: {arg} must be >= 0; received {arg}={value}")
        if learning_rate_power > 0:
            raise ValueError(f"Ftrl: learning_rate_power must be <= 0; received "
                             f"learning_rate_power={learning_rate_power}")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "accumulator", self.initial_accumulator_value)
            self.add_slot(var, "linear")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        accum, linear = self.slot(variable, "accumulator"), self.slot(variable, "linear")
        lr = ops.cast(learning_rate, variable.dtype)
        power = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (lr * 2.0)
        grad = gradient + variable * (2 * self.l2_shrinkage_regularization_strength)
        new_accum = accum + ops.square(gradient)
        new_root = ops.pow(new_accum, power)
        linear.assign_add(grad - (new_root - ops.pow(accum, power)) / lr * variable)
        quadratic = new_root / lr + l2 * 2
        l1 = self.l1_regularization_strength
        variable.assign((ops.clip_by_value(linear, -l1, l1) - linear) / quadratic)
        accum.assign(new_accum)

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        p = -self.learning_rate_power
        formula = ("g' = g + 2 * l2_shrinkage * w;  n' = n + g²\n"
                   f"z <- z + g' - (n'^{p:g} - n^{p:g}) / lr * w\n"
                   f"w <- (clip(z, -l1, l1) - z) / (n'^{p:g} / lr + 2 * l2');  n <- n'\n"
                   f"(l1 = {self.l1_regularization_strength:g}, l2' = "
                   f"{self.l2_regularization_strength:g} + {self.beta:g} / (2 lr))")
        words = ("Follow-the-regularized-leader: each weight is the closed-form minimiser of "
                 "the accumulated linear loss plus L1/L2 terms, which makes exact zeros.")
        return self._explanation(words, formula, None)

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
