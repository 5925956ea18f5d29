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


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
