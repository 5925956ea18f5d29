"""How many threads the BLAS gets for a large product: policy, apart from the loops of
:mod:`.kernels`.

Off unless asked for (``adapt_threads(True)`` or ``CHAINRULE_ADAPT_THREADS=1``): a
:class:`ThreadGovernor` then times each large product and moves the BLAS between all of its
threads and one, whichever runs faster on a machine shared with other processes.
"""

import os
import time

import numpy as np

__all__ = ["GOVERN_MIN_WORK", "ThreadGovernor", "adapt_threads", "governs", "timed_matmul"]

# Off unless asked for: a BLAS rounds differently on one thread than on several, so runs
# that switch would no longer repeat each other (or eager code) bit for bit.
_state = {"adapt": os.environ.get("CHAINRULE_ADAPT_THREADS", "0") not in ("", "0")}

# Products of at least this many multiply-adds are timed by the governor.
GOVERN_MIN_WORK = 1 << 22


class ThreadGovernor:
    """Chooses, from measured speed, whether large products use all of the BLAS's threads
    or one.

    A multithreaded BLAS splits each product evenly between its threads and waits for the
    last; on a machine where other processes take a core now and then, that thread is
    often the one descheduled, and the product takes as long as on one thread or much
    longer (measured here on two cores: 2x longer with one busy neighbour, 10x with two).
    The governor times every large product per multiply-add and keeps a running cost for
    the setting in use. Now and then it tries the other setting for one product (two if
    the first is not clearly worse) and switches when that was cheaper by a margin. A
    probe that loses doubles the wait before the next one (up to ``longest`` products), so
    a machine that stays quiet, or stays busy, pays for almost no probes. It needs
    threadpoolctl to change the BLAS's thread count, and does nothing when that is missing
    or the BLAS has one thread; ``adapt_threads(False)`` turns it off."""

    def __init__(self, shortest=32, longest=4096, margin=0.8):
        self.shortest, self.longest, self.margin = shortest, longest, margin
        self.wait = shortest
        self.controller = None
        self.threads = None  # (all, 1) once known
        self.cost = [None, None]  # running seconds per multiply-add, per setting
        self.mode = 0
        self.until_probe = shortest
        self.probe = []  # costs seen while trying the other setting
        self.active = None  # decided on first use

    def start(self):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return False
        controller = ThreadpoolController()
        counts = [i["num_threads"] for i in controller.info() if i["user_api"] == "blas"]
        if not counts or max(counts) < 2:
            return False
        self.controller, self.threads = controller, (max(counts), 1)
        return True

    def run(self, a, b, out):
        start = time.perf_counter()
        result = np.matmul(a, b, out=out)
        self.observe((time.perf_counter() - start) / (a.shape[0] * a.shape[1] * b.shape[-1]))
        return result

    def observe(self, cost):
        if self.probe:
            self._probed(cost)
            return
        old = self.cost[self.mode]
        self.cost[self.mode] = cost if old is None else old + 0.25 * (cost - old)
        self.until_probe -= 1
        if self.until_probe <= 0:
            self.probe.append(None)  # the next product runs on the other setting
            self._set(1 - self.mode)

    def _probed(self, cost):
        self.probe = [c for c in self.probe if c is not None] + [cost]
        usual = self.cost[1 - self.mode]  # the setting the probe left
        mean = sum(self.probe) / len(self.probe)
        if len(self.probe) == 1 and usual is not None and cost > usual / self.margin:
            mean = cost  # clearly worse: one product is enough to tell
        elif len(self.probe) < 2:
            return
        self.probe = []
        if usual is None or mean < self.margin * usual:  # the other setting wins: stay
            self.cost[self.mode] = mean
            self.wait = self.shortest
        else:
            self.cost[self.mode] = mean
            self._set(1 - self.mode)
            self.wait = min(2 * self.wait, self.longest)
        self.until_probe = self.wait

    def _set(self, mode):
        if mode != self.mode:
            self.mode = mode
            self.controller.limit(limits=self.threads[mode], user_api="blas")

    def stop(self):
        if self.controller is not None:
            self._set(0)
        self.active = False


class _Lazy:
    """The governor, started on first use (threadpoolctl scans the loaded libraries)."""

    def __getattr__(self, name):
        governor = ThreadGovernor()
        governor.active = _state["adapt"] and governor.start()
        globals()["_governor"] = governor
        return getattr(governor, name)


_governor = _Lazy()


def adapt_threads(enabled=True):
    """Lets the governor (:class:`ThreadGovernor`) choose the BLAS's thread count for large
    products, or not: ``adapt_threads(False)`` (the default, unless the environment sets
    ``CHAINRULE_ADAPT_THREADS=1``) restores all of its threads. With it on, epochs stay
    steady when other processes compete for the cores, at a price: the BLAS rounds
    differently on one thread than on several, so two runs no longer agree bit for bit."""
    global _governor
    if not enabled and isinstance(_governor, ThreadGovernor):
        _governor.stop()
    _state["adapt"] = bool(enabled)
    _governor = _Lazy()


def governs(a, b):
    """Whether the governor times the product ``a @ b`` (it is on, and the product large)."""
    return _state["adapt"] and a.ndim == 2 and b.ndim == 2 and _governor.active and \
        a.shape[0] * a.shape[1] * b.shape[-1] >= GOVERN_MIN_WORK


def timed_matmul(a, b, out):
    """``np.matmul(a, b, out=out)``, timed by the governor (which may then change the
    BLAS's thread count for the products after it)."""
    return _governor.run(a, b, out)
