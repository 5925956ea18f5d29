import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global seed, so failures reproduce."""
    cr.random.set_seed(1234)
    np.random.seed(1234)
    yield
