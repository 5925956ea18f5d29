"""The primitive ops: what each one computes, how it is differentiated, how it is run.

:mod:`.primitive` defines a primitive and :func:`bind`, the one call path every op takes;
:mod:`.table` is THE TABLE of every primitive, each with its forward, its derivative rule
and, where one pays, a kernel that writes into a given buffer; :mod:`.kernels` holds the
loops those kernels run (numba when installed, NumPy otherwise), :mod:`.sparsity` and
:mod:`.threads` the policy for the product's loops (when to leave out zero lines, how many
threads the BLAS gets); :mod:`.rng` is the seeded generator the ``random`` primitive draws
from; :mod:`.collectives` the ``all_reduce`` primitive.
"""

from .primitive import Kink, OpError, Primitive, bind

__all__ = ["Kink", "OpError", "Primitive", "bind"]
