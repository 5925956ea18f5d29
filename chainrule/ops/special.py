"""Trigonometric, hyperbolic and error functions, as compositions of primitives.

The primitive table has no ``sin``, ``atan`` or ``erf``, so each is built here from table
ops: a range reduction (``round``/``mod``, which carry no gradient) and a short series
evaluated by Horner's rule on the reduced argument. The series are long enough for
float64 (errors near 1e-16); a float32 input is computed in float32. Because each function
is a composition, its gradient is the exact derivative of what is computed (a derivative
of the series), and graph capture and nested tapes work with no rule of their own.

A few inputs are fed through ``where`` twice (once to pick a *safe* operand, once to pick
the result), so the branch that is not taken never sees a value that would make its
gradient ``0 * inf = nan``. ``expm1`` is the table's own primitive (``elu`` is built on it).
"""

import math

from ..backend import xp
from ..primitives import table as P
from ..tensor import Tensor
from ._convert import binary_args, tensor_arg
from .array import stop_gradient, where
from .math import (
    abs, cast, equal, exp, greater, less, log, logical_and, minimum, mod, round, sign, sqrt,
)

__all__ = [
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh",
    "atanh", "erf", "erfc", "expm1", "log1p",
]


def _float(x, op):
    x = tensor_arg(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating tensor, not {x.dtype}; cast it first, "
                        f"e.g. chainrule.cast(x, 'float32')")
    return x


def _horner(z, coefficients):
    """``c0 + c1 z + c2 z^2 + ...`` for ``coefficients = [c0, c1, ...]``."""
    acc = coefficients[-1] + 0 * z
    for c in reversed(coefficients[:-1]):
        acc = acc * z + c
    return acc


# Taylor coefficients in r^2: sin r = r * sum (-1)^n r^2n / (2n+1)!, cos r likewise.
_SIN = [(-1) ** n / math.factorial(2 * n + 1) for n in range(10)]
_COS = [(-1) ** n / math.factorial(2 * n) for n in range(11)]
# pi/2 in three parts (Cody and Waite's reduction): the first two have few enough bits
# that k * part is exact for the k a float input can have, so r = x - k pi/2 loses no
# digits to cancellation. (1.5703125 = 201/128; the middle part is exact in float32; the
# parts were computed from 50 digits of pi.)
_HALF_PI = (1.5703125, 0.0004838267923332751, 2.563344151594519e-12)


def _quadrants(x):
    """``(r, q)``: ``x = r + k pi/2`` with ``|r| <= pi/4`` and ``q = k mod 4``."""
    k = stop_gradient(round(x * (2 / math.pi)))
    r = ((x - k * _HALF_PI[0]) - k * _HALF_PI[1]) - k * _HALF_PI[2]
    return r, mod(k, 4.0)


def _sin_cos(x):
    r, q = _quadrants(x)
    r2 = r * r
    s, c = r * _horner(r2, _SIN), _horner(r2, _COS)
    return s, c, q


def _by_quadrant(q, a0, a1, a2, a3):
    return where(equal(q, 0.0), a0, where(equal(q, 1.0), a1, where(equal(q, 2.0), a2, a3)))


def sin(x):
    """Element-wise sine (``tf.math.sin``)."""
    s, c, q = _sin_cos(_float(x, "sin"))
    return _by_quadrant(q, s, c, -s, -c)


def cos(x):
    """Element-wise cosine (``tf.math.cos``)."""
    s, c, q = _sin_cos(_float(x, "cos"))
    return _by_quadrant(q, c, -s, -c, s)


def tan(x):
    """Element-wise tangent (``tf.math.tan``)."""
    s, c, q = _sin_cos(_float(x, "tan"))
    odd = logical_and(greater(q, 0.5), less(q, 1.5)) | logical_and(greater(q, 2.5), less(q, 3.5))
    # sin/cos swap roles in odd quadrants: tan = -cos(r)/sin(r) there.
    num, den = where(odd, -c, s), where(odd, s, c)
    return num / den


# atan u = u - u^3/3 + u^5/5 - ... for |u| <= tan(pi/16) after two half-angle steps.
_ATAN = [(-1) ** n / (2 * n + 1) for n in range(14)]


def _atan_unit(u):
    """atan(u) for |u| <= 1: two half-angle steps, atan u = 2 atan(u / (1 + sqrt(1 + u^2))),
    bring u within 0.2 of zero, where the series converges fast."""
    for _ in range(2):
        u = u / (1 + sqrt(1 + u * u))
    return 4 * (u * _horner(u * u, _ATAN))


def atan2(y, x, name=None):
    """The angle of the point ``(x, y)``, in ``[-pi, pi]`` (``tf.math.atan2``)."""
    y, x = _float(y, "atan2"), _float(x, "atan2")
    y, x = binary_args("atan2", y, x)
    steep = greater(abs(y), abs(x))
    # Divide the smaller by the larger magnitude, so the quotient is within [-1, 1]; the
    # steep case uses atan2 = +-pi/2 - atan(x / y), which keeps the gradient right at x = 0.
    num, den = where(steep, x, y), where(steep, y, x)
    safe = where(equal(den, 0.0), 1.0, den)
    t = _atan_unit(num / safe)
    pi = Tensor._wrap(xp.full(t.shape, math.pi, t.dtype))
    flat = t + where(less(x, 0.0), where(less(y, 0.0), -pi, pi), 0 * pi)
    # (atan2(+-0, x < 0) is +-pi: the sign of a zero y decides, as in C's atan2.)
    return where(steep, sign(y) * (math.pi / 2) - t, flat)


def atan(x):
    """Element-wise arctangent (``tf.math.atan``)."""
    x = _float(x, "atan")
    return atan2(x, Tensor._wrap(xp.ones(x.shape, x.dtype)))


def asin(x):
    """Element-wise arcsine, for ``-1 <= x <= 1`` (``tf.math.asin``)."""
    x = _float(x, "asin")
    return atan2(x, sqrt((1 - x) * (1 + x)))


def acos(x):
    """Element-wise arccosine, for ``-1 <= x <= 1`` (``tf.math.acos``)."""
    x = _float(x, "acos")
    return atan2(sqrt((1 - x) * (1 + x)), x)


# log(1 + x) = 2 atanh(x / (2 + x)) with atanh s = sum s^(2n+1) / (2n+1), for |x| < 1/4,
# where 1 + x would lose digits.
_ATANH = [1 / (2 * n + 1) for n in range(12)]


def expm1(x):
    """``exp(x) - 1``, accurate for small ``x`` (``tf.math.expm1``): the table's primitive,
    whose gradient ``g * (out + 1)`` reuses the result."""
    return P.expm1(_float(x, "expm1"))


def log1p(x):
    """``log(1 + x)``, accurate for small ``x`` (``tf.math.log1p``)."""
    x = _float(x, "log1p")
    # Two comparisons, not |x| < 0.25: abs has a kink at 0, which a gradient check would
    # report at inputs where no gradient crosses it.
    small = logical_and(greater(x, -0.25), less(x, 0.25))
    xs, xl = where(small, x, 0.0), where(small, 1.0, x)
    s = xs / (2 + xs)
    return where(small, 2 * (s * _horner(s * s, _ATANH)), log(1 + xl))


def sinh(x):
    """Element-wise hyperbolic sine (``tf.math.sinh``)."""
    x = _float(x, "sinh")
    small = less(abs(x), 1.0)
    xs, xl = where(small, x, 0.0), where(small, 1.0, x)
    e = expm1(xs)  # e^x - e^-x = (e^x - 1) + (e^x - 1) / e^x, with no cancellation
    return where(small, 0.5 * (e + e / (e + 1)), 0.5 * (exp(xl) - exp(-xl)))


def cosh(x):
    """Element-wise hyperbolic cosine (``tf.math.cosh``)."""
    x = _float(x, "cosh")
    return 0.5 * (exp(x) + exp(-x))


def asinh(x):
    """Element-wise inverse hyperbolic sine (``tf.math.asinh``)."""
    x = _float(x, "asinh")
    neg = less(x, 0.0)
    a = where(neg, -x, x)  # (not abs: its derivative at 0 would be 0, not 1)
    big = greater(a, 1e8)
    ab, asm = where(big, a, 1.0), where(big, 1.0, a)
    # log(a + sqrt(a^2 + 1)) = log1p(a + a^2 / (1 + sqrt(1 + a^2))), exact for small a.
    near = log1p(asm + asm * asm / (1 + sqrt(1 + asm * asm)))
    out = where(big, log(ab) + math.log(2.0), near)
    return where(neg, -out, out)


def acosh(x):
    """Element-wise inverse hyperbolic cosine, for ``x >= 1`` (``tf.math.acosh``)."""
    x = _float(x, "acosh")
    big = greater(x, 1e8)
    xb, xs = where(big, x, 2.0), where(big, 2.0, x)
    t = xs - 1
    return where(big, log(xb) + math.log(2.0), log1p(t + sqrt(t * (t + 2))))


def atanh(x):
    """Element-wise inverse hyperbolic tangent, for ``|x| < 1`` (``tf.math.atanh``)."""
    x = _float(x, "atanh")
    neg = less(x, 0.0)
    a = where(neg, -x, x)  # odd: computing on |x| keeps log1p's argument positive
    out = 0.5 * log1p(2 * a / (1 - a))
    return where(neg, -out, out)


# erf x = 2/sqrt(pi) exp(-x^2) sum (2x^2)^n x / (2n+1)!!: every term is positive, so nothing
# cancels; 64 terms reach 1e-17 for |x| < 4. Beyond, the asymptotic series
# erfc x = exp(-x^2) / (x sqrt(pi)) * sum (-1)^n (2n-1)!! / (2x^2)^n, stopped near its
# smallest term, is good to about 1e-7 of erfc (1e-15 of erf); past 26 erfc underflows.
_ERF_SERIES = [1 / math.prod(range(1, 2 * n + 2, 2)) for n in range(64)]
_ERFC_ASYMPTOTIC = [(-1) ** n * math.prod(range(1, 2 * n, 2)) / 2 ** n for n in range(16)]
_ERF_SPLIT = 4.0


def _erf_parts(x):
    """``(erf near 0, erfc far out, where near)``, each safe where the other is used."""
    a = abs(x)
    near = less(a, _ERF_SPLIT)
    xn = where(near, x, 0.0)
    xf = minimum(where(near, _ERF_SPLIT, a), 27.0)  # erfc(27) underflows to 0
    x2 = xn * xn
    series = (2 / math.sqrt(math.pi)) * exp(-x2) * (xn * _horner(2 * x2, _ERF_SERIES))
    tail = exp(-xf * xf) / (xf * math.sqrt(math.pi)) * _horner(1 / (xf * xf), _ERFC_ASYMPTOTIC)
    tail = where(less(a, 27.0), tail, 0 * tail)
    return series, tail, near


def _in_float64(fn, x):
    # The series' later coefficients underflow in float32: sum in float64 and cast back.
    return cast(fn(cast(x, "float64")), x.dtype)


def erf(x):
    """The Gauss error function, element-wise (``tf.math.erf``)."""
    x = _float(x, "erf")
    if x.dtype.itemsize < 8:
        return _in_float64(erf, x)
    series, tail, near = _erf_parts(x)
    return where(near, series, sign(x) * (1 - tail))


def erfc(x):
    """``1 - erf(x)``, keeping the tail's digits for large ``x`` (``tf.math.erfc``)."""
    x = _float(x, "erfc")
    if x.dtype.itemsize < 8:
        return _in_float64(erfc, x)
    series, tail, near = _erf_parts(x)
    return where(near, 1 - series, where(greater(x, 0.0), tail, 2 - tail))
