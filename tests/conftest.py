import contextlib
import signal
import threading
import time

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global seed, so failures reproduce."""
    cr.random.set_seed(1234)
    np.random.seed(1234)
    yield


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (full MNIST / Fashion-MNIST training)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; skipped unless --runslow is given")
    config.addinivalue_line("markers", "time_limit(seconds): fail the test once it has run "
                            "that long (tests that iterate endless Datasets)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class TimeLimitExceeded(Exception):
    """Raised in the main thread by :func:`time_limit` when the time is up."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raises :class:`TimeLimitExceeded` in the code under the ``with`` once ``seconds`` have
    passed (SIGALRM through a real-time interval timer; Unix, main thread). A test that loops
    over an endless Dataset uses it, so a regression that never stops fails instead of
    hanging the suite."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield  # no timer here: the test runs unguarded
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(f"the test was still running after {seconds} s (its "
                                f"time_limit); it probably loops forever")

    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)  # an enclosing limit's time
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # the enclosing limit goes on counting
            signal.setitimer(signal.ITIMER_REAL,
                             max(outer - (time.monotonic() - started), 1e-3))


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Applies ``@pytest.mark.time_limit(seconds)`` (see :func:`time_limit`)."""
    marker = request.node.get_closest_marker("time_limit")
    if marker is None:
        yield
        return
    with time_limit(marker.args[0]):
        yield
