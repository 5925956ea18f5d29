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
def expm1(x, out):
    """out = expm1(x) per element, as a fused loop computes it (``np.expm1`` of one element)."""
    for k in range(x.size):
        out[k] = np.expm1(x[k])


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
def pack_columns(c, cols, most, seen, packed):
    """cols[:n] = the columns of ``c`` holding anything but zero (NaN counts), and
    packed[:rows * n] = ``c[:, cols[:n]]`` row after row; returns n, or -1 as soon as more
    than ``most`` are found (counted after rows 1, 2, 4, 8, ... and at the end: a dense
    matrix is given up on after its first row, one with scattered zeros after a few), then
    packing nothing. ``seen`` (uint8) and ``packed`` are the caller's scratch, of at least
    ``c.shape[1]`` and ``c.size`` elements: in a new process, compiling an allocation here
    (or a second function) would cost more than the search. One function, not two: each
    costs a new process a compilation."""
    rows, k = c.shape
    for j in range(k):
        seen[j] = 0
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
    for i in range(rows):
        for r in range(n):
            packed[i * n + r] = c[i, cols[r]]
    return n


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
def take_finite_rows(b, rows, out):
    """Whether every row of ``b`` *not* in the sorted ``rows`` is free of inf and NaN (with
    ``rows`` empty: the whole of ``b``); when it is, out = b[rows]. (One function, not two:
    each costs a new process a compilation.)"""
    p = 0
    ok = np.uint8(1)
    for i in range(b.shape[0]):
        if p < rows.size and rows[p] == i:
            p += 1
            continue
        for j in range(b.shape[1]):
            v = b[i, j]
            ok &= np.uint8(v - v == 0)
    if ok != 1:
        return False
    for r in range(rows.size):
        src = rows[r]
        for j in range(b.shape[1]):
            out[r, j] = b[src, j]
    return True


# -- windows of channels-last images: convolution and pooling (kernels.windows_*) ----------
# x is (batch, height, width, channels); a window position (i, j) with tap (a, b) reads row
# i * sh - ph + a * dh and column j * sw - pw + b * dw, and a tap outside the image reads the
# padding. Where several values add up in one place, they are added in the order NumPy's
# fallback adds them: the taps of a window in row-major order, one after the other, onto a
# zero; which is, for one place, the windows that reach it from the last to the first.


@numba.njit(**_OPTIONS)
def patches2d(x, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """im2col: out[n, i, j, a, b, :] = the image's entries under tap (a, b) of window (i, j),
    zero in the padding."""
    n_, h, w, c_ = x.shape
    oh, ow = out.shape[1], out.shape[2]
    zero = x.dtype.type(0)
    for n in range(n_):
        for i in range(oh):
            for a in range(kh):
                r = i * sh - ph + a * dh
                inside_r = 0 <= r < h
                for j in range(ow):
                    first = j * sw - pw
                    if inside_r and first >= 0 and first + (kw - 1) * dw < w:
                        # the whole row of taps inside the image: no checks (and for one
                        # channel, no inner loop)
                        if c_ == 1:
                            for b in range(kw):
                                out[n, i, j, a, b, 0] = x[n, r, first + b * dw, 0]
                        else:
                            for b in range(kw):
                                for c in range(c_):
                                    out[n, i, j, a, b, c] = x[n, r, first + b * dw, c]
                        continue
                    for b in range(kw):
                        col = first + b * dw
                        if inside_r and 0 <= col < w:
                            for c in range(c_):
                                out[n, i, j, a, b, c] = x[n, r, col, c]
                        else:
                            for c in range(c_):
                                out[n, i, j, a, b, c] = zero


@numba.njit(**_OPTIONS)
def fold2d(taps, sh, sw, ph, pw, dh, dw, out):
    """col2im, the adjoint of patches2d: out = 0, then every tap's value added where it was
    read from (the padding dropped)."""
    n_, oh, ow, kh, kw, c_ = taps.shape
    h, w = out.shape[1], out.shape[2]
    out[...] = 0
    for n in range(n_):
        for i_ in range(oh):
            i = oh - 1 - i_  # the last window first (a plain loop: see max_pool_scatter2d)
            for j_ in range(ow):
                j = ow - 1 - j_
                for a in range(kh):
                    r = i * sh - ph + a * dh
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b * dw
                        if col < 0 or col >= w:
                            continue
                        for c in range(c_):
                            out[n, r, col, c] += taps[n, i, j, a, b, c]


@numba.njit(**_OPTIONS)
def max_pool2d(x, kh, kw, sh, sw, ph, pw, out):
    """The maximum of each window as np.maximum takes it tap after tap (NaN spreads); the
    padding holds the lowest value, which no maximum keeps."""
    n_, h, w, c_ = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                first = True
                for a in range(kh):
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        if first:
                            for c in range(c_):
                                out[n, i, j, c] = x[n, r, col, c]
                            first = False
                        else:
                            for c in range(c_):
                                m = out[n, i, j, c]
                                v = x[n, r, col, c]
                                out[n, i, j, c] = m if (m > v or m != m) else v


@numba.njit(**_OPTIONS)
def max_pool_scatter2d(x, g, kh, kw, sh, sw, ph, pw, out):
    """out = 0, then each g[n, i, j, c] added at the first tap of its window that holds the
    window's maximum (the last tap when none does: a NaN maximum)."""
    n_, h, w, c_ = x.shape
    oh, ow = g.shape[1], g.shape[2]
    # Windows side by side (pooling's default): every entry is in one window at most, so
    # each is written once (g or 0), and only the entries outside every window are zeroed
    # beforehand; overlapping windows add up onto zeros.
    apart = sh >= kh and sw >= kw
    if apart:
        row_in = np.zeros(h, np.bool_)
        col_in = np.zeros(w, np.bool_)
        for i in range(oh):
            for a in range(kh):
                r = i * sh - ph + a
                if 0 <= r < h:
                    row_in[r] = True
        for j in range(ow):
            for b in range(kw):
                col = j * sw - pw + b
                if 0 <= col < w:
                    col_in[col] = True
        for n in range(n_):
            for r in range(h):
                for col in range(w):
                    if not (row_in[r] and col_in[col]):
                        for c in range(c_):
                            out[n, r, col, c] = 0
    else:
        out[...] = 0
    top = np.empty(c_, x.dtype)
    hit = np.empty(c_, np.int32)
    last = np.int32(kh * kw - 1)
    for n in range(n_):
        for i_ in range(oh):
            # overlapping windows: the last first (see above); a plain loop either way, which
            # LLVM compiles several times better than a reversed range
            i = i_ if apart else oh - 1 - i_
            for j_ in range(ow):
                j = j_ if apart else ow - 1 - j_
                # the maximum, as max_pool2d takes it (the padding never wins)
                first = True
                for a in range(kh):
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        if first:
                            for c in range(c_):
                                top[c] = x[n, r, col, c]
                            first = False
                        else:
                            for c in range(c_):
                                m = top[c]
                                v = x[n, r, col, c]
                                top[c] = m if (m > v or m != m) else v
                for c in range(c_):
                    hit[c] = -1
                for a in range(kh):  # the first tap that holds the maximum
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        k1 = np.int32(a * kw + b + 1)
                        for c in range(c_):  # without a branch, so that it vectorises
                            found = np.int32(x[n, r, col, c] == top[c])
                            hit[c] += np.int32(hit[c] < 0) * found * k1
                for c in range(c_):
                    hit[c] = last if hit[c] < 0 else hit[c]
                for a in range(kh):  # every tap adds g where it won, 0 elsewhere
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        k = np.int32(a * kw + b)
                        if apart:
                            for c in range(c_):
                                out[n, r, col, c] = g[n, i, j, c] * (hit[c] == k)
                        else:
                            for c in range(c_):
                                out[n, r, col, c] += g[n, i, j, c] * (hit[c] == k)


@numba.njit(**_OPTIONS)
def window_sums2d(x, kh, kw, sh, sw, ph, pw, sizes, out):
    """Each window's sum, tap after tap from its first (padding adds nothing), divided by
    sizes[i, j]: average pooling."""
    n_, h, w, c_ = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    out[n, i, j, c] = 0
                for a in range(kh):
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        for c in range(c_):
                            out[n, i, j, c] += x[n, r, col, c]
                s = sizes[i, j]
                for c in range(c_):
                    out[n, i, j, c] = out[n, i, j, c] / s


@numba.njit(**_OPTIONS)
def window_shares2d(g, kh, kw, sh, sw, ph, pw, sizes, out):
    """The adjoint of window_sums2d: out = 0, then g[n, i, j] / sizes[i, j] added at every
    tap of window (i, j)."""
    n_, oh, ow, c_ = g.shape
    h, w = out.shape[1], out.shape[2]
    out[...] = 0
    for n in range(n_):
        for i_ in range(oh):
            i = oh - 1 - i_  # the last window first (a plain loop: see max_pool_scatter2d)
            for j_ in range(ow):
                j = ow - 1 - j_
                s = sizes[i, j]
                for a in range(kh):
                    r = i * sh - ph + a
                    if r < 0 or r >= h:
                        continue
                    for b in range(kw):
                        col = j * sw - pw + b
                        if col < 0 or col >= w:
                            continue
                        for c in range(c_):
                            out[n, r, col, c] += g[n, i, j, c] / s
