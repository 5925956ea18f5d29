"""Checks a function's gradients against central finite differences, and says which op is
wrong when they disagree.

For random directions ``v`` (in the inputs) and ``u`` (in the output), the tape's VJP must
satisfy ``<VJP(u), v> == <u, J v>``, where ``J v`` is measured by central differences.
One projection checks every entry of the Jacobian at once, so a check costs two function
evaluations per input, whatever the sizes; tiny functions get their full Jacobian compared
entry by entry instead. Everything runs on a float64 copy: float32 differences are too
coarse to say anything.

Two things make a plain comparison misleading, and :func:`check_grads` handles both:

* **kinks**: relu, abs, maximum and minimum switch branch at a point (any primitive whose
  table entry has a ``kink``); an input within ``eps`` of it (or that crosses it during the
  finite differences) is reported as a kink, with a :class:`KinkWarning`, not as a failure,
  when the gradient goes through that entry (an ``abs`` that only chooses a branch is no
  kink of ``f``);
* **where the error is**: on a mismatch the function is recorded once more and each
  recorded op's derivative rule is checked on its own, in order; the error names the first
  one that disagrees (a table rule, or a ``custom_gradient``), with its relative error and
  the line that called it.
"""

import sys
import warnings

import numpy as np

from .. import debug
from ..autodiff.tape import GradientTape, unbroadcast
from ..ops import convert_to_tensor, reduce_sum
from ..primitives import table
from ..recording import paused_recorders, recorders
from ..tensor import Tensor
from ..variable import Variable

__all__ = ["check_grads", "numerical_gradient", "numerical_jvp", "GradientCheckError",
           "GradientCheckReport", "KinkWarning"]

_FULL_JACOBIAN_MAX = 64  # input entries x output entries below which J is compared whole


class GradientCheckError(AssertionError):
    """The tape's gradient disagrees with finite differences. ``op`` names the first
    recorded op whose rule disagrees (None when no single op could be blamed)."""

    def __init__(self, message, op=None, relative_error=None):
        super().__init__(message)
        self.op, self.relative_error = op, relative_error


class KinkWarning(UserWarning):
    """A gradient check met a point where an op switches branch (relu at 0, maximum at a
    tie: a primitive with a ``kink``)."""


class GradientCheckReport:
    """What :func:`check_grads` checked: ``mode`` ("full Jacobian" or "random
    projection"), ``order``, ``relative_error`` (the largest seen) and ``kinks`` (one line
    per op that sat on a switching point)."""

    def __init__(self, mode, order, relative_error, kinks):
        self.mode, self.order = mode, order
        self.relative_error, self.kinks = relative_error, kinks

    def __repr__(self):
        kinks = f", {len(self.kinks)} kink(s)" if self.kinks else ""
        return (f"<GradientCheckReport order={self.order} {self.mode}, relative error "
                f"{self.relative_error:.2g}{kinks}>")


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


# -- the point: float64 copies of the arguments ----------------------------------------------

class _Point:
    """The arguments as float64 arrays. A Variable argument is checked in place: its value
    is swapped for the float64 copy while ``f`` runs (how a model's weights are checked)."""

    def __init__(self, args):
        self.variables = [a if isinstance(a, Variable) else None for a in args]
        self.saved = [v._value if v is not None else None for v in self.variables]
        self.arrays = []
        for a in args:
            a = np.asarray(a._value if isinstance(a, Tensor) else a)
            self.arrays.append(a.astype(np.float64) if a.dtype.kind == "f" else a)

    def tensors(self, arrays):
        out = []
        for v, a in zip(self.variables, arrays):
            if v is None:
                out.append(convert_to_tensor(a))
            else:
                v._value = np.array(a, dtype=np.float64)
                out.append(v)
        return out

    def restore(self):
        for v, saved in zip(self.variables, self.saved):
            if v is not None:
                v._value = saved


class _KinkWatch:
    """A recorder that keeps, for each kink op of a run (in order), which side of its
    switching point each entry is on; entries seen on both sides (or within ``eps``) are
    kinks, where the output's gradient flows through them: an ``abs`` that only picks a
    branch (``less(abs(x), 1)``, or a branch ``where`` discards there) leaves ``f`` smooth."""

    def __init__(self, eps):
        self.eps = eps
        # per kink op: (primitive, sign array, result), from the unperturbed run
        self.center = None
        self.flagged = {}  # kink op index -> entries seen on a kink (a boolean array)
        self.run = None

    def start(self):
        self.run = []

    def _record(self, prim, inputs, params, out):
        if prim.kink is None or self.run is None:
            return
        d = np.asarray(prim.kink.distance(*[x._value for x in inputs]), dtype=np.float64)
        k = len(self.run)
        self.run.append((prim, np.sign(d), out))
        if self.center is None:
            near = np.abs(d) <= self.eps
        elif k < len(self.center):
            near = np.sign(d) * self.center[k][1] < 0
        else:
            return
        if near.any():
            self.flagged[k] = self.flagged.get(k, False) | near

    def finish_center(self):
        self.center, self.run = self.run, None

    def descriptions(self, tape, out):
        """One line per kink op with flagged entries that the gradient of ``out`` (the
        unperturbed run's, on ``tape``) flows through."""
        reached = _reached(tape, out) if self.flagged else {}
        lines = []
        for k in sorted(self.flagged):
            prim, _, result = self.center[k]
            n = int((self.flagged[k] & reached.get(id(result), False)).sum())
            if n == 0:
                continue
            lines.append(f"'{prim.name}' (kink op #{k + 1}): {n} entr"
                         f"{'y sits' if n == 1 else 'ies sit'} within eps of the "
                         f"point where {prim.kink.where}; its derivative there is a convention, "
                         f"not a limit")
        return lines


def _reached(tape, out):
    """``{id: which entries}`` for each recorded tensor whose entries the gradient of ``out``
    flows through near the point: a ``where`` passes on those its condition picks (the same
    all around the point unless the condition itself flips there), any other op all."""
    reached = {id(out): np.ones(out.shape, bool)}
    with paused_recorders():
        for prim, inputs, _, result, needs in reversed(tape._records):
            mask = reached.get(id(result))
            if mask is None or not mask.any():
                continue
            for i, (x, need) in enumerate(zip(inputs, needs)):
                if not need:
                    continue
                if prim is table.where:
                    picked = mask & (inputs[0]._value if i == 1 else ~inputs[0]._value)
                    picked = np.asarray(unbroadcast(convert_to_tensor(picked.astype(np.float64)),
                                                    x.shape)) > 0
                else:
                    picked = np.ones(x.shape, bool)
                reached[id(x)] = reached[id(x)] | picked if id(x) in reached else picked
    return reached


def _call(f, point, arrays, watch=None):
    if watch is not None:
        watch.start()
    return f(*point.tensors(arrays))


# -- the check ------------------------------------------------------------------------------

def check_grads(f, *args, order=1, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, wrt=None,
                modes=None):
    """Checks that the tape's gradients of ``f`` at ``args`` match finite differences.

    Raises :class:`GradientCheckError` naming the first recorded op whose derivative rule
    disagrees; returns a :class:`GradientCheckReport` otherwise. Points on a kink (relu at 0,
    maximum at a tie: any primitive with a ``kink``) give a :class:`KinkWarning` instead of
    an error.

    Args:
        f: a function of tensors returning one tensor.
        args: the point (arrays, tensors, or Variables, which are checked in place); given
            as separate arguments or as one tuple. Floating values are copied to float64;
            non-float arguments are held fixed.
        order: 1 checks first derivatives; 2 also checks the derivative of the gradient
            (through nested tapes).
        wrt: indices of the arguments to check (default: every floating one).
        modes: "full" (the whole Jacobian, entry by entry), "projection", or None (full
            when inputs x outputs has at most 64 entries).

    >>> import chainrule as cr
    >>> from chainrule.testing import check_grads
    >>> check_grads(lambda x: cr.tanh(x) * x, ([0.5, -1.0],))
    <GradientCheckReport order=1 full Jacobian, relative error ...>
    """
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    point = _Point(args)
    try:
        arrays = point.arrays
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
        rng = np.random.default_rng(seed)
        report = _check(f, point, arrays, wrt, rng, eps, rtol, atol, modes, order=1)
        if order >= 2:
            second = _projected_gradient(f, point, wrt, seed)
            report2 = _check(second, point, arrays, wrt, rng, eps, rtol * 10, atol * 10,
                             "projection", order=2)
            report = GradientCheckReport(report.mode, 2, max(report.relative_error,
                                                             report2.relative_error),
                                         report.kinks + report2.kinks)
        return report
    finally:
        point.restore()


def _projected_gradient(f, point, wrt, seed):
    """``<grad f . u, w>`` as a function of the inputs: its gradient is a row of the
    Hessian-vector product, which the outer (first-order) check then tests."""
    state = {}

    def projected(*xs):
        with GradientTape() as tape:
            for i in wrt:
                tape.watch(xs[i])
            out = f(*xs)
        if "u" not in state:
            state["u"] = np.random.default_rng(seed + 1).standard_normal(out.shape)
        grads = tape.gradient(out, [xs[i] for i in wrt],
                              output_gradients=convert_to_tensor(state["u"], dtype=out.dtype),
                              unconnected_gradients="zero")
        w = [np.random.default_rng(seed + 2 + k).standard_normal(xs[i].shape)
             for k, i in enumerate(wrt)]
        return sum(reduce_sum(g * convert_to_tensor(wk, dtype=g.dtype)) for g, wk in zip(grads, w))

    projected.__name__ = f"the gradient of {getattr(f, '__name__', 'f')}"
    return projected


def _check(f, point, arrays, wrt, rng, eps, rtol, atol, modes, order):
    watch = _KinkWatch(eps)
    sources = point.tensors(arrays)
    rec = recorders()
    rec.append(watch)
    try:
        watch.start()
        with GradientTape(persistent=True) as tape:
            for i in wrt:
                tape.watch(sources[i])
            out = convert_to_tensor(f(*sources))
        watch.finish_center()
        n_in = sum(arrays[i].size for i in wrt)
        full = modes == "full" or (modes is None and n_in * out._value.size <= _FULL_JACOBIAN_MAX)
        if full:
            mismatch, rel = _full_jacobian(f, point, arrays, wrt, tape, out,
                                           [sources[i] for i in wrt], eps, rtol, atol, watch)
        else:
            mismatch, rel = _projection(f, point, arrays, wrt, tape, out,
                                        [sources[i] for i in wrt], rng, eps, rtol, atol, watch)
    finally:
        rec.remove(watch)
    kinks = watch.descriptions(tape, out)
    mode = "full Jacobian" if full else "random projection"
    if mismatch is not None:
        blame = _first_wrong_op(f, point, arrays, wrt, eps, rtol, atol, rng)
        what = "gradient" if order == 1 else "second derivative"
        if blame is not None:
            op, rel_op, text = blame
            raise GradientCheckError(
                f"{what} check failed ({mode}): {mismatch}.\nThe first recorded op whose "
                f"derivative rule disagrees with finite differences is {text}", op, rel_op)
        if not kinks:
            raise GradientCheckError(
                f"{what} check failed ({mode}): {mismatch}. Every recorded op's rule agrees "
                f"with finite differences on its own, so the error is in how they are "
                f"connected: a value that depends on the input without being recorded (one "
                f"captured from a custom_gradient's forward into its grad_fn, a detour through "
                f"NumPy), or a function that is not deterministic", None, rel)
    if kinks:
        warnings.warn("gradient check: the point is on a kink, so finite differences do not "
                      "measure a derivative there (reported as a kink, not a failure):\n  "
                      + "\n  ".join(kinks), KinkWarning, stacklevel=3)
    return GradientCheckReport(mode, order, rel if mismatch is None else float("nan"), kinks)


def _relative(a, b):
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.finfo(np.float64).tiny)
    return np.abs(a - b) / scale


def _projection(f, point, arrays, wrt, tape, out, sources, rng, eps, rtol, atol, watch):
    u = rng.standard_normal(out.shape)
    grads = tape.gradient(out, sources, output_gradients=convert_to_tensor(u, dtype=out.dtype),
                          unconnected_gradients="zero")
    directions = [np.zeros(a.shape) for a in arrays]
    for i in wrt:
        directions[i] = rng.standard_normal(arrays[i].shape)
    analytic = sum(float(np.sum(np.asarray(g, dtype=np.float64) * directions[i]))
                   for g, i in zip(grads, wrt))
    numeric = float(np.sum(u * _jvp(f, point, arrays, directions, eps, watch)))
    rel = float(_relative(analytic, numeric))
    if np.isclose(analytic, numeric, rtol=rtol, atol=atol):
        return None, rel
    return (f"<VJP(u), v> = {analytic!r} but finite differences give <u, Jv> = {numeric!r} "
            f"(relative error {rel:.3g})"), rel


def _full_jacobian(f, point, arrays, wrt, tape, out, sources, eps, rtol, atol, watch):
    analytic = tape.jacobian(out, sources, unconnected_gradients="zero")
    worst, worst_rel, bad = None, 0.0, 0
    for k, i in enumerate(wrt):
        a_jac = np.asarray(analytic[k], dtype=np.float64).reshape(out._value.size, -1)
        for j in range(arrays[i].size):
            direction = [np.zeros(a.shape) for a in arrays]
            direction[i].flat[j] = 1.0
            n_col = _jvp(f, point, arrays, direction, eps, watch).reshape(-1)
            rel = _relative(a_jac[:, j], n_col)
            close = np.isclose(a_jac[:, j], n_col, rtol=rtol, atol=atol)
            bad += int((~close).sum())
            for r in np.flatnonzero(~close):
                if worst is None or rel[r] > worst_rel:
                    worst_rel = float(rel[r])
                    worst = (r, i, j, float(a_jac[r, j]), float(n_col[r]))
            if close.all():
                worst_rel = max(worst_rel, float(rel.max(initial=0.0)))
    if worst is None:
        return None, worst_rel
    r, i, j, a, n = worst
    return (f"{bad} Jacobian entr{'y differs' if bad == 1 else 'ies differ'}; the worst is "
            f"d out[{r}] / d arg{i}[{j}]: tape {a!r}, finite differences {n!r} (relative "
            f"error {worst_rel:.3g})"), worst_rel


def _jvp(f, point, arrays, directions, eps, watch):
    plus = [a + eps * d if a.dtype.kind == "f" else a for a, d in zip(arrays, directions)]
    minus = [a - eps * d if a.dtype.kind == "f" else a for a, d in zip(arrays, directions)]
    hi = np.asarray(_call(f, point, plus, watch), dtype=np.float64)
    lo = np.asarray(_call(f, point, minus, watch), dtype=np.float64)
    return (hi - lo) / (2 * eps)


# -- which op is wrong ------------------------------------------------------------------------

class _Lines:
    """A recorder noting the line of code that asked for each op (only while blaming)."""

    def __init__(self):
        self.at = {}

    def _record(self, prim, inputs, params, out):
        at, caller = debug._source_lines(sys._getframe(2))
        self.at[id(out)] = at or caller


def _first_wrong_op(f, point, arrays, wrt, eps, rtol, atol, rng):
    """Records ``f`` once more and checks each recorded op's VJP against finite differences
    of that op alone, in order; returns (op name, relative error, description) of the first
    that disagrees, or None. Ops sitting on a kink are skipped."""
    lines = _Lines()
    sources = point.tensors(arrays)
    rec = recorders()
    rec.append(lines)
    try:
        with GradientTape(persistent=True) as tape:
            for i in wrt:
                tape.watch(sources[i])
            f(*sources)
    finally:
        rec.remove(lines)
    records = list(tape._records)
    for n, (prim, inputs, params, out, needs) in enumerate(records):
        # The op alone is moved by eps * v (|v| a few units): closer than that to its
        # switching point, its finite differences straddle the kink.
        if prim.kink is not None and \
                (np.abs(prim.kink.distance(*[x._value for x in inputs])) <= 10 * eps).any():
            continue
        result = _check_one_op(prim, inputs, params, out, needs, eps, rng)
        if result is None:
            continue
        analytic, numeric = result
        if np.isclose(analytic, numeric, rtol=rtol * 10, atol=atol):
            continue
        rel = float(_relative(analytic, numeric))
        shapes = ", ".join(str(x.shape) for x in inputs)
        at = lines.at.get(id(out))
        text = (f"'{prim.name}' (op #{n + 1} of {len(records)} recorded, inputs of shapes "
                f"{shapes}): its VJP gives <VJP(u), v> = {analytic!r} but finite differences "
                f"of the op alone give {numeric!r}, a relative error of {rel:.3g}"
                + (f"\n  called at {at}" if at else ""))
        return prim.name, rel, text
    return None


def _check_one_op(prim, inputs, params, out, needs, eps, rng):
    """``(<VJP(u), v>, <u, J v>)`` for one recorded op, or None when it cannot be checked
    in float64 (non-float inputs or output, or finite differences leaving its domain)."""
    if out._value.dtype != np.float64:
        return None
    check = [i for i, (x, need) in enumerate(zip(inputs, needs))
             if need and x._value.dtype == np.float64]
    if not check:
        return None
    values = [x._value for x in inputs]
    u = rng.standard_normal(out.shape)
    directions = {i: rng.standard_normal(values[i].shape) for i in check}
    with paused_recorders(), np.errstate(all="ignore"):
        try:
            plus = [v + eps * directions[i] if i in directions else v for i, v in enumerate(values)]
            minus = [v - eps * directions[i] if i in directions else v for i, v in enumerate(values)]
            numeric = float(np.sum(u * (np.asarray(prim.forward(*plus, **params), np.float64)
                                        - np.asarray(prim.forward(*minus, **params), np.float64))
                                   / (2 * eps)))
        except (ValueError, FloatingPointError):
            return None
        if not np.isfinite(numeric):
            return None
        g = convert_to_tensor(u)
        if prim.vjp_wants_needs:
            grads = prim.vjp(g, out, *inputs, needs=tuple(needs), **params)
        else:
            grads = prim.vjp(g, out, *inputs, **params)
        analytic = 0.0
        for i in check:
            gi = grads[i]
            if gi is None:
                continue
            if gi.shape != inputs[i].shape:
                gi = unbroadcast(gi, inputs[i].shape)
            analytic += float(np.sum(np.asarray(gi, dtype=np.float64) * directions[i]))
    return analytic, numeric
