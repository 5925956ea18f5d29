"""The derivative as a graph: gradients of captured graphs, and second derivatives."""

import numpy as np

import chainrule as cr
from chainrule.graph import gradient_graph, to_dot
from chainrule.testing import numerical_gradient as numeric_gradient


def f(x):
    return cr.reduce_sum(cr.tanh(x) * x * x + cr.exp(0.5 * x) * cr.sigmoid(x))


def test_second_derivatives_through_a_captured_graph_match_finite_differences():
    x0 = np.array([0.3, -1.2, 0.8], np.float64)
    captured = cr.function(f)
    captured(cr.constant(x0))
    first = gradient_graph(captured.graph)  # d f / d x
    second = gradient_graph(first)  # d (sum of d f / d x) / d x = Hessian @ ones

    def grad_sum(x):
        return float(np.sum(first.run(cr.constant(x))[0].numpy()))

    def f_value(x):
        return float(captured(cr.constant(x)))

    np.testing.assert_allclose(first.run(cr.constant(x0))[0].numpy(),
                               numeric_gradient(f_value, x0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(second.run(cr.constant(x0))[0].numpy(),
                               numeric_gradient(grad_sum, x0), rtol=1e-6, atol=1e-8)


def test_hessian_through_a_function_that_calls_tape_gradient():
    @cr.function
    def grad_f(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x)

    x0 = np.array([0.5, -0.4], np.float64)
    rows = []
    for i in range(2):
        x = cr.constant(x0)
        with cr.GradientTape() as outer:
            outer.watch(x)
            g = grad_f(x)[i]  # replayed under the outer tape: recorded, so differentiable
        rows.append(outer.gradient(g, x).numpy())
    numeric = np.stack([numeric_gradient(lambda z: float(grad_f(cr.constant(z))[i]), x0)
                        for i in range(2)])
    np.testing.assert_allclose(np.stack(rows), numeric, rtol=1e-6, atol=1e-8)
    assert grad_f.tracing_count == 1


def test_gradient_graph_with_respect_to_variables():
    w = cr.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32), name="w")
    b = cr.Variable(np.zeros(2, np.float32), name="b")
    f = cr.function(lambda x: cr.reduce_sum(cr.nn.relu(cr.matmul(x, w) + b)))
    x = cr.constant(np.array([[1.0, 2.0]], np.float32))
    f(x)
    grads = gradient_graph(f.graph, sources=[w, b])
    got_w, got_b = grads.run(x)
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(cr.nn.relu(cr.matmul(x, w) + b))
    want_w, want_b = tape.gradient(y, [w, b])
    np.testing.assert_allclose(got_w.numpy(), want_w.numpy())
    np.testing.assert_allclose(got_b.numpy(), want_b.numpy())
    assert grads.inputs[0].name == "x"
    assert "digraph" in to_dot(grads)  # the gradient can be drawn like any graph


def test_unconnected_source_gives_zeros():
    w = cr.Variable(2.0, name="w")
    f = cr.function(lambda x: x * 3.0 + cr.stop_gradient(w))
    f(cr.constant(1.0))
    grad_x, grad_w = gradient_graph(f.graph).run(cr.constant(1.0))
    assert float(grad_x) == 3.0 and float(grad_w) == 0.0
