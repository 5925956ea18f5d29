"""The numba loops of :mod:`chainrule.primitives.kernels` (imported only when numba is
installed).

Every loop does, per element, exactly the float32 operations of the NumPy fallback, in the
same order: ``fastmath=False`` keeps LLVM from contracting ``a * b + c`` into a fused
multiply-add or reordering sums, and ``error_model="numpy"`` (no Python exception on a
division by zero) lets it vectorise the loop. Arguments are float32 arrays and float32
scalars (a Python float would turn the arithmetic into float64).
"""

import numba
import numpy as np

_OPTIONS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)


@numba.njit(**_OPTIONS)
def softmax_shift(logits, labels, z, neg_picked):
    """z = logits - row max; neg_picked = -z[label]; False at a label out of range."""
    rows, classes = logits.shape
    for i in range(rows):
        label = labels[i]
        if label < 0 or label >= classes:
            return False
        _shift_row(logits, z, i)
        neg_picked[i] = -z[i, label]
    return True


@numba.njit(**_OPTIONS)
def _shift_row(x, z, i):
    # z[i] = x[i] - max(x[i]), the max as np.maximum takes it: the later value on ties,
    # NaN spreads
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        v = x[i, j]
        m = m if (m > v or m != m) else v
    for j in range(x.shape[1]):
        z[i, j] = x[i, j] - m


@numba.njit(**_OPTIONS)
def row_shift(x, z):
    """z = x - x.max(axis=1, keepdims=True)."""
    for i in range(x.shape[0]):
        _shift_row(x, z, i)


@numba.njit(**_OPTIONS)
def divide_rows(e, sums):
    """e /= sums[:, None]."""
    for i in range(e.shape[0]):
        s = sums[i]
        for j in range(e.shape[1]):
            e[i, j] = e[i, j] / s


@numba.njit(**_OPTIONS)
def _row_sum(z, i, n):
    # NumPy's float32 add.reduce of one contiguous row of n <= 128 values: a zero start
    # plus its pairwise sum, which for such n is eight running sums combined as a tree,
    # then the last n % 8 values one by one.
    zero = np.float32(0)
    if n < 8:
        res = zero
        for j in range(n):
            res += z[i, j]
        return zero + res
    r0, r1, r2, r3 = z[i, 0], z[i, 1], z[i, 2], z[i, 3]
    r4, r5, r6, r7 = z[i, 4], z[i, 5], z[i, 6], z[i, 7]
    j = 8
    while j < n - n % 8:
        r0 += z[i, j]
        r1 += z[i, j + 1]
        r2 += z[i, j + 2]
        r3 += z[i, j + 3]
        r4 += z[i, j + 4]
        r5 += z[i, j + 5]
        r6 += z[i, j + 6]
        r7 += z[i, j + 7]
        j += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while j < n:
        res += z[i, j]
        j += 1
    return zero + res


@numba.njit(**_OPTIONS)
def row_sums(e, sums):
    """sums = e.sum(axis=1), with NumPy's float32 summation order."""
    for i in range(e.shape[0]):
        sums[i] = _row_sum(e, i, e.shape[1])


# -- matrix products that skip zero lines (kernels.matmul) ----------------------------------

@numba.njit(**_OPTIONS)
def nonzero_columns(c, cols, most):
    """cols[:n] = the columns of ``c`` holding anything but zero (NaN counts); returns n, or
    -1 as soon as more than ``most`` are found (counted after rows 1, 2, 4, 8, ... and at
    the end: a dense matrix is given up on after its first row, one with scattered zeros
    after a few)."""
    rows, k = c.shape
    seen = np.zeros(k, np.uint8)
    check = 1
    for i in range(rows):
        for j in range(k):
            seen[j] |= np.uint8(c[i, j] != 0)
        if i + 1 == check or i == rows - 1:
            check *= 2
            n = 0
            for j in range(k):
                n += seen[j]
            if n > most:
                return -1
    n = 0
    for j in range(k):
        if seen[j]:
            cols[n] = j
            n += 1
    return n


@numba.njit(**_OPTIONS)
def take_columns(c, cols, out):
    for i in range(c.shape[0]):
        for r in range(cols.size):
            out[i, r] = c[i, cols[r]]


@numba.njit(**_OPTIONS)
def take_rows(b, rows, out):
    for r in range(rows.size):
        src = rows[r]
        for j in range(b.shape[1]):
            out[r, j] = b[src, j]


@numba.njit(**_OPTIONS)
def place_rows(src, rows, out):
    """out[rows] = src, and zeros in every other row."""
    p = 0
    for i in range(out.shape[0]):
        if p < rows.size and rows[p] == i:
            for j in range(out.shape[1]):
                out[i, j] = src[p, j]
            p += 1
        else:
            for j in range(out.shape[1]):
                out[i, j] = 0


@numba.njit(**_OPTIONS)
def finite_outside(b, rows):
    """Whether every row of ``b`` *not* in the sorted ``rows`` is free of inf and NaN (with
    ``rows`` empty: the whole of ``b``)."""
    p = 0
    ok = np.uint8(1)
    for i in range(b.shape[0]):
        if p < rows.size and rows[p] == i:
            p += 1
            continue
        for j in range(b.shape[1]):
            v = b[i, j]
            ok &= np.uint8(v - v == 0)
    return ok == 1
