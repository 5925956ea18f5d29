"""The one array namespace the core computes with.

Every primitive calls ``xp.<function>`` rather than ``numpy.<function>`` directly, so a
different array library that follows the Python array API (CuPy, for a GPU backend) can be
swapped in at this single point.
"""

import numpy as xp

__all__ = ["xp"]
