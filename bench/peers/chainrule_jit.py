"""chainrule's compiled entry: the book's Keras code with ``compile(..., jit_compile=True)``.

The training step is traced once per batch shape and replayed by chainrule's compiled
executor (``chainrule.compiler.execute``); the info column says whether its fused kernels run
on numba or on their NumPy fallback.
"""

from __future__ import annotations

from .chainrule_fit import make


def build(data, batch_size: int, seed: int):
    """Harness entry point (see peers.common)."""
    try:
        from chainrule.primitives import kernels
        mode = f"jit ({kernels.backend()})"
    except ImportError:
        mode = "jit"
    return make(data, batch_size, seed, jit_compile=True, mode=mode)
