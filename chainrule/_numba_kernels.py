"""The numba versions of :mod:`chainrule.kernels` (imported only when numba is installed).

Every loop does, per element, exactly the float32 operations of the NumPy fallback, in the
same order: ``fastmath=False`` keeps LLVM from contracting ``a * b + c`` into a fused
multiply-add or reordering sums, and ``error_model="numpy"`` (no Python exception on a
division by zero) lets it vectorise the loop. Arguments are float32 arrays and float32
scalars (a Python float would turn the arithmetic into float64).
"""

import numba
import numpy as np

_OPTIONS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)


# Each loop comes in two forms: into a separate output, and in place (the output is the
# first input). One loop cannot serve both at full speed: LLVM vectorises a loop only after
# a run-time check that the output does not overlap an input, and in place it does.

@numba.njit(**_OPTIONS)
def bias_relu(x, bias, out):
    rows, cols = x.shape
    for i in range(rows):
        for j in range(cols):
            v = x[i, j] + bias[j]
            # np.maximum(v, 0): v when v > 0 or v is NaN, else +0.0 (also for v = -0.0)
            out[i, j] = v if (v > 0 or v != v) else np.float32(0)


@numba.njit(**_OPTIONS)
def bias_relu_inplace(x, bias):
    rows, cols = x.shape
    for i in range(rows):
        for j in range(cols):
            v = x[i, j] + bias[j]
            x[i, j] = v if (v > 0 or v != v) else np.float32(0)


@numba.njit(**_OPTIONS)
def relu_grad(g, y, out, sums):
    rows, cols = g.shape
    one, zero = np.float32(1), np.float32(0)
    for j in range(cols):
        sums[j] = zero
    for i in range(rows):  # row after row, as NumPy adds up an axis-0 sum
        for j in range(cols):
            v = g[i, j] * (one if y[i, j] > 0 else zero)
            out[i, j] = v
            sums[j] += v


@numba.njit(**_OPTIONS)
def relu_grad_inplace(g, y, sums):
    rows, cols = g.shape
    one, zero = np.float32(1), np.float32(0)
    for j in range(cols):
        sums[j] = zero
    for i in range(rows):
        for j in range(cols):
            v = g[i, j] * (one if y[i, j] > 0 else zero)
            g[i, j] = v
            sums[j] += v


@numba.njit(**_OPTIONS)
def rmsprop(w, g, v, lr, rho, one_minus_rho, epsilon):
    # The optimizer's NumPy steps, per element: v *= rho; t = g * g; t *= 1 - rho; v += t;
    # t = v + eps; t = sqrt(t); t = g / t; t *= lr; w -= t. One thread: splitting the pass
    # across cores lost more to BLAS's spinning worker threads than it gained (measured).
    w, g, v = w.reshape(-1), g.reshape(-1), v.reshape(-1)
    for i in range(w.size):
        gi = g[i]
        vi = v[i] * rho + (gi * gi) * one_minus_rho
        v[i] = vi
        w[i] = w[i] - (gi / np.sqrt(vi + epsilon)) * lr
