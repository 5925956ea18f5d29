"""chainrule.custom_gradient: TensorFlow's decorator, as one op through bind."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads


@cr.custom_gradient
def log1pexp(x):
    # TensorFlow's example: the plain derivative overflows for large x; this one does not.
    e = cr.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))
    return cr.math.log(1 + e), grad


def test_the_given_rule_is_used_and_the_inner_ops_are_not_recorded():
    x = cr.constant(10.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert [p.name for p, *_ in tape._records] == ["custom_gradient(log1pexp)"]
    assert float(tape.gradient(y, x)) == pytest.approx(1 - 1 / (1 + np.exp(10.0)))


def test_it_passes_a_gradient_check_and_a_second_order_one():
    check_grads(log1pexp, np.array([-2.0, 0.5, 3.0]))

    @cr.custom_gradient
    def softplus(x):  # the rule recomputed from x, so it can be differentiated again
        return cr.math.log(1 + cr.exp(x)), lambda upstream: upstream * cr.sigmoid(x)

    check_grads(softplus, np.array([-2.0, 0.5, 3.0]), order=2)


def test_variables_read_inside_get_gradients_through_variables_argument():
    w = cr.Variable(np.float32(3.0))

    @cr.custom_gradient
    def scale(x):
        def grad(dy, variables=None):
            return dy * w, [dy * x]
        return x * w, grad

    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = scale(x)
    gx, gw = tape.gradient(y, [x, w])
    assert (float(gx), float(gw)) == (3.0, 2.0)


def test_a_grad_fn_without_variables_argument_is_told_what_to_do():
    w = cr.Variable(np.float32(3.0))

    @cr.custom_gradient
    def scale(x):
        return x * w, lambda dy: dy * w

    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = scale(x)
    with pytest.raises(TypeError, match=r"reads Variables .* must accept\s+variables=None"):
        tape.gradient(y, x)


def test_wrong_number_of_gradients_and_bad_returns_are_errors():
    @cr.custom_gradient
    def two_grads(x):
        return x * 2.0, lambda dy: (dy, dy)

    x = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = two_grads(x)
    with pytest.raises(ValueError, match="returned 2 input gradient"):
        tape.gradient(y, x)

    @cr.custom_gradient
    def no_grad_fn(x):
        return x

    with pytest.raises(TypeError, match=r"must return \(y, grad_fn\)"):
        no_grad_fn(x)


def test_a_captured_function_replays_it_with_new_values():
    fn = cr.function(lambda x: log1pexp(x) * 2.0)
    first = fn(cr.constant([0.0]))
    second = fn(cr.constant([1.0]))
    assert np.allclose(first.numpy(), 2 * np.log(2.0))
    assert np.allclose(second.numpy(), 2 * np.log1p(np.e))
