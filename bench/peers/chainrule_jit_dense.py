"""``chainrule-jit`` with zero-skipping off: every matrix product computed in full.

chainrule's matmul kernel leaves out the input columns that are zero in a whole batch (a
third of MNIST's pixels in a batch of 128, almost none of Fashion-MNIST's); setting
``chainrule.primitives.sparsity.SKIP_MAX_ACTIVE = 0`` turns that off. Side by side with
``chainrule-jit``, this entry shows what the skipping gains.
"""

from __future__ import annotations

from .chainrule_fit import make
from .chainrule_jit import kernel_backend
from .common import Unavailable


def build(data, batch_size: int, seed: int, model="book"):
    """Harness entry point (see peers.common)."""
    try:
        from chainrule.primitives import sparsity
    except ImportError as exc:
        raise Unavailable(f"not available ({exc})") from None
    if not hasattr(sparsity, "SKIP_MAX_ACTIVE"):
        raise Unavailable("chainrule.primitives.sparsity has no SKIP_MAX_ACTIVE switch")
    sparsity.SKIP_MAX_ACTIVE = 0.0
    return make(data, batch_size, seed, jit_compile=True,
                mode=f"jit, dense products ({kernel_backend()})", model=model)
