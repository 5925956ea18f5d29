"""Checks a function's gradients against central finite differences.

For random directions ``v`` (in the inputs) and ``u`` (in the output), the tape's VJP must
satisfy ``<VJP(u), v> == <u, J v>``, where ``J v`` is measured by central differences.
One projection checks every entry of the Jacobian at once, so a check costs two function
evaluations per input, whatever the sizes. Run it in float64: float32 differences are
too coarse to say anything.
"""

import numpy as np

from ..autodiff.tape import GradientTape
from ..ops import convert_to_tensor, reduce_sum

__all__ = ["check_grads", "numerical_gradient", "numerical_jvp", "GradientCheckError"]


class GradientCheckError(AssertionError):
    """The tape's gradient disagrees with finite differences."""


def numerical_jvp(f, args, directions, eps=1e-6):
    """``J v`` by central differences: (f(x + eps v) - f(x - eps v)) / (2 eps)."""
    plus = [a + eps * d for a, d in zip(args, directions)]
    minus = [a - eps * d for a, d in zip(args, directions)]
    hi = np.asarray(f(*[convert_to_tensor(x) for x in plus]), dtype=np.float64)
    lo = np.asarray(f(*[convert_to_tensor(x) for x in minus]), dtype=np.float64)
    return (hi - lo) / (2 * eps)


def numerical_gradient(f, x, eps=1e-6):
    """The gradient of a scalar function ``f`` of one float64 array, entry by entry, by
    central differences (two evaluations per entry: for small arrays)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def check_grads(f, *args, order=1, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, wrt=None):
    """Asserts that the tape's gradients of ``f`` at ``args`` match finite differences.

    Args:
        f: a function of tensors returning one tensor.
        args: the point, as float64 arrays (non-float arguments are held fixed).
        order: 1 checks first derivatives; 2 also checks the derivative of the gradient
            (through nested tapes).
        wrt: indices of the arguments to check (default: every floating one).
    """
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    wrt = [i for i, a in enumerate(args) if a.dtype.kind == "f"] if wrt is None else list(wrt)
    _check_first_order(f, args, wrt, rng, eps, rtol, atol)
    if order >= 2:
        u_out = None

        def projected_gradient(*xs):
            nonlocal u_out
            with GradientTape() as tape:
                for i in wrt:
                    tape.watch(xs[i])
                out = f(*xs)
            if u_out is None:
                u_out = rng.standard_normal(out.shape)
            grads = tape.gradient(out, [xs[i] for i in wrt],
                                  output_gradients=convert_to_tensor(u_out, dtype=out.dtype),
                                  unconnected_gradients="zero")
            w = [np.random.default_rng(seed + 1 + k).standard_normal(args[i].shape)
                 for k, i in enumerate(wrt)]
            return sum(reduce_sum(g * convert_to_tensor(wk, dtype=g.dtype)) for g, wk in zip(grads, w))

        # The second-order check needs the first gradient to be recorded by an outer tape.
        _check_first_order(projected_gradient, args, wrt, rng, eps, rtol * 10, atol * 10)


def _check_first_order(f, args, wrt, rng, eps, rtol, atol):
    xs = [convert_to_tensor(a) for a in args]
    with GradientTape() as tape:
        for i in wrt:
            tape.watch(xs[i])
        out = f(*xs)
    out = convert_to_tensor(out)
    u = rng.standard_normal(out.shape)
    grads = tape.gradient(out, [xs[i] for i in wrt],
                          output_gradients=convert_to_tensor(u, dtype=out.dtype),
                          unconnected_gradients="zero")
    directions = [np.zeros_like(a, dtype=np.float64) for a in args]
    for i in wrt:
        directions[i] = rng.standard_normal(args[i].shape)
    analytic = sum(float(np.sum(np.asarray(g) * directions[i])) for g, i in zip(grads, wrt))
    numeric = float(np.sum(u * numerical_jvp(f, args, directions, eps)))
    if not np.isclose(analytic, numeric, rtol=rtol, atol=atol):
        raise GradientCheckError(
            f"gradient check failed: <VJP(u), v> = {analytic!r} but finite differences give "
            f"<u, Jv> = {numeric!r} (difference {abs(analytic - numeric):.3g})")
