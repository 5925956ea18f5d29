"""optimizer.explain(): the rule in words and formula, current values, PyTorch's differences."""

from chainrule.keras import optimizers


def test_rmsprop_states_epsilon_inside_the_root_and_torch_outside():
    text = optimizers.RMSprop(learning_rate=0.01, rho=0.8).explain()
    assert text.startswith("RMSprop (learning_rate=0.01)")
    assert "v <- 0.8 * v + 0.2 * g²" in text and "w <- w - lr * g / sqrt(v + eps)" in text
    assert "eps = 1e-07" in text
    assert "torch.optim.RMSprop puts eps outside the root, lr * g / (sqrt(v) + eps)" in text
    with_momentum = optimizers.RMSprop(momentum=0.9, centered=True).explain()
    assert "m <- 0.9 * m + lr * g / sqrt(v - a² + eps)" in with_momentum
    assert "torch keeps the buffer without lr" in with_momentum


def test_sgd_momentum_form_differs_from_torch():
    text = optimizers.SGD(learning_rate=0.1, momentum=0.9).explain()
    assert "m <- 0.9 * m - lr * g\nw <- w + m" in text
    assert "torch.optim.SGD keeps the velocity without the learning rate, b <- mu * b + g" in text
    nesterov = optimizers.SGD(momentum=0.5, nesterov=True).explain()
    assert "w <- w + 0.5 * m - lr * g" in nesterov
    assert "w <- w - lr * g" in optimizers.SGD().explain()


def test_adam_and_adagrad_state_their_epsilon_and_accumulator():
    adam = optimizers.Adam(beta_2=0.99).explain()
    assert "alpha = lr * sqrt(1 - 0.99^t) / (1 - 0.9^t)" in adam
    assert "torch.optim.Adam adds eps to the bias-corrected root" in adam
    adagrad = optimizers.Adagrad(initial_accumulator_value=0.5).explain()
    assert "a starts at 0.5" in adagrad
    assert "torch.optim.Adagrad starts the accumulator at 0" in adagrad


def test_explain_reads_the_current_learning_rate_and_extras():
    opt = optimizers.RMSprop(learning_rate=0.1, weight_decay=0.01, clipnorm=1.0)
    opt.learning_rate = 0.05
    text = opt.explain()
    assert text.startswith("RMSprop (learning_rate=0.05)")
    assert "w <- w - lr * 0.01 * w" in text and "clipped first (clipnorm=1)" in text
