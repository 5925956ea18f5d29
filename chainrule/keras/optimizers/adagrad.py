"""Adagrad: per-coordinate steps shrinking with the accumulated squared gradients."""


from ... import ops
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad with Keras's rule (epsilon inside the square root).

    With an accumulator a starting at ``initial_accumulator_value``:

        a <- a + g²
        w <- w - lr * g / sqrt(a + epsilon)

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: default 0.1.
        epsilon: default 1e-7.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "accumulator", self.initial_accumulator_value)
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        accumulator = self.slot(variable, "accumulator")
        accumulator.assign_add(ops.square(gradient))
        variable.assign_sub(gradient / ops.sqrt(accumulator + self.epsilon)
                            * ops.cast(learning_rate, variable.dtype))

    def explain(self):
        """The rule in words and formula with the current values; see Optimizer.explain."""
        formula = (f"a <- a + g²   (a starts at {self.initial_accumulator_value:g})\n"
                   f"w <- w - lr * g / sqrt(a + eps)   (eps = {self.epsilon:g})")
        words = ("Divides each step by the root of the sum of all squared gradients so far, "
                 "so steps shrink for weights that have had large gradients.")
        torch = ("torch.optim.Adagrad starts the accumulator at 0 (initial_accumulator_value"
                 "=0) where Keras starts it at 0.1, and puts eps outside the root, lr * g / "
                 "(sqrt(a) + eps) with eps=1e-10, and lr=0.01 by default; the first steps "
                 "here are smaller for gradients well below sqrt(0.1).")
        return self._explanation(words, formula, torch)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
