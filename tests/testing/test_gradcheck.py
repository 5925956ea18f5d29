"""check_grads: full Jacobian or projections, kinks, and naming the op whose rule is wrong."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import GradientCheckError, KinkWarning, check_grads


@cr.custom_gradient
def bad_log(x):
    def grad(dy):
        return dy / (2.0 * x)  # wrong on purpose: d log(x) = dx / x
    return cr.math.log(x), grad


@cr.custom_gradient
def good_log(x):
    def grad(dy):
        return dy / x
    return cr.math.log(x), grad


def test_tiny_functions_get_their_full_jacobian_compared():
    report = check_grads(lambda x: cr.tanh(x) * x, ([0.5, -1.0],))
    assert report.mode == "full Jacobian" and report.relative_error < 1e-7
    assert report.kinks == []


def test_large_inputs_are_checked_by_random_projection():
    report = check_grads(lambda x: cr.reduce_sum(cr.tanh(x) * x, axis=1), np.random.rand(40, 5))
    assert report.mode == "random projection" and report.relative_error < 1e-6


def test_a_wrong_custom_gradient_is_caught_and_named_with_its_relative_error():
    x = np.array([0.5, 1.5, 2.0])
    with pytest.raises(GradientCheckError) as caught:
        check_grads(lambda x: cr.reduce_sum(bad_log(x * x + 1.0) * 3.0), x)
    error = caught.value
    assert error.op == "custom_gradient(bad_log)"
    assert error.relative_error == pytest.approx(0.5, rel=1e-6)
    message = str(error)
    assert "first recorded op whose derivative rule disagrees" in message
    assert "'custom_gradient(bad_log)'" in message and "relative error of 0.5" in message
    assert "test_gradcheck.py" in message  # the line that called the op
    # The same function with the right rule passes, by projection too.
    check_grads(lambda x: cr.reduce_sum(good_log(x * x + 1.0) * 3.0), x)
    with pytest.raises(GradientCheckError, match="random projection"):
        check_grads(lambda x: bad_log(x * x + 1.0), np.random.rand(30) + 0.5)


def test_relu_at_zero_is_reported_as_a_kink_not_a_failure():
    with pytest.warns(KinkWarning, match=r"'relu' .*within eps of the point where its input is 0"):
        report = check_grads(lambda x: cr.nn.relu(x) * 2.0, np.array([0.0, 1.0, -1.0]))
    assert len(report.kinks) == 1 and "1 entry" in report.kinks[0]


@pytest.mark.parametrize("fn, args, what", [
    (lambda x: cr.abs(x), (np.array([0.0, 2.0]),), "'abs'"),
    (lambda a, b: cr.maximum(a, b), (np.array([1.0, 2.0]), np.array([1.0, 0.0])), "'maximum'"),
    (lambda a, b: cr.minimum(a, b) * a, (np.array([3.0]), np.array([3.0])), "'minimum'"),
])
def test_other_switching_points_are_kinks(fn, args, what):
    with pytest.warns(KinkWarning, match=what):
        check_grads(fn, *args)


@pytest.mark.parametrize("fn", [
    lambda x: cr.where(cr.abs(x) < 1.0, x * 2.0, x * x),  # abs only picks the branch
    lambda x: cr.where(x < 1.0, x * 2.0, cr.abs(x) * 3.0),  # abs in the branch not taken
    cr.math.sinh, cr.math.erf, cr.math.atan,
], ids=["abs_in_the_condition", "abs_in_a_discarded_branch", "sinh", "erf", "atan"])
def test_an_abs_the_gradient_does_not_go_through_is_no_kink(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinkWarning)
        report = check_grads(fn, np.array([0.0, -1e-9, 0.5]), order=2)
    assert report.kinks == []


def test_an_abs_in_the_branch_taken_is_a_kink():
    with pytest.warns(KinkWarning, match=r"'abs' \(kink op #2\): 1 entry"):
        report = check_grads(lambda x: cr.where(cr.abs(x) < 1.0, cr.abs(x) * 3.0, x),
                             np.array([0.0, 0.5]))
    assert len(report.kinks) == 1


def test_a_kink_does_not_hide_a_wrong_rule_elsewhere():
    x = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KinkWarning)
        with pytest.raises(GradientCheckError) as caught:
            check_grads(lambda x: cr.nn.relu(x) + bad_log(x + 1.0), x)
    assert caught.value.op == "custom_gradient(bad_log)"


def test_a_point_away_from_kinks_has_none():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinkWarning)
        report = check_grads(lambda x: cr.nn.relu(x) * x, np.array([0.5, -0.5, 2.0]), order=2)
    assert report.order == 2 and report.kinks == []


def test_second_order_names_the_op_that_breaks_the_second_derivative():
    @cr.custom_gradient
    def square(x):
        def grad(dy):
            return dy * 2.0 * cr.stop_gradient(x)  # right value, but not differentiable
        return x * x, grad

    check_grads(lambda x: square(x), np.array([1.0, 2.0]))  # first order is right
    with pytest.raises(GradientCheckError, match="second derivative check failed") as caught:
        check_grads(lambda x: square(x), np.array([1.0, 2.0]), order=2)
    assert caught.value.op == "stop_gradient"


def test_variables_are_checked_in_place_in_float64_and_put_back():
    w = cr.Variable(np.array([[0.5, -0.2], [0.1, 0.3]], np.float32))
    x = cr.constant(np.array([[1.0, 2.0]], np.float64))
    before = w.numpy()
    report = check_grads(lambda w: cr.reduce_sum(cr.tanh(cr.matmul(x, w))), (w,))
    assert report.relative_error < 1e-6
    assert w.dtype == np.float32 and np.array_equal(w.numpy(), before)


def test_float32_arguments_are_checked_on_a_float64_copy():
    # In float32 these differences would be noise; on the float64 copy they agree.
    report = check_grads(lambda x: cr.exp(x) * x, np.linspace(0.1, 1.0, 5).astype(np.float32))
    assert report.relative_error < 1e-7


def test_a_value_captured_outside_the_record_is_explained_when_no_op_is_to_blame():
    @cr.custom_gradient
    def log1pexp(x):
        e = cr.exp(x)  # computed in the forward, unrecorded: constant to a second derivative
        return cr.math.log(1 + e), lambda dy: dy * (1 - 1 / (1 + e))

    check_grads(log1pexp, np.array([-2.0, 0.5, 3.0]))
    with pytest.raises(GradientCheckError, match="captured from a custom_gradient's forward") as caught:
        check_grads(log1pexp, np.array([-2.0, 0.5, 3.0]), order=2)
    assert caught.value.op is None
