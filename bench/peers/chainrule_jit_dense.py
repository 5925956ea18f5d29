"""``chainrule-jit`` with zero-skipping off: every matrix product computed in full.

``chainrule.kernels.matmul`` leaves out the input columns that are zero in a whole batch (a
third of MNIST's pixels in a batch of 128); setting ``kernels.SKIP_MAX_ACTIVE = 0`` turns that
off. Side by side with ``chainrule-jit``, this entry shows what the skipping gains.
"""

from __future__ import annotations

from .chainrule_fit import make


def build(data, batch_size: int, seed: int):
    """Harness entry point (see peers.common)."""
    from chainrule.primitives import kernels
    kernels.SKIP_MAX_ACTIVE = 0.0
    return make(data, batch_size, seed, jit_compile=True, mode=f"jit, dense products "
                f"({kernels.backend()})")
