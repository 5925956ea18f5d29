"""chainrule's compiled entry: the models' Keras code with ``compile(..., jit_compile=True)``.

The training step is traced once per batch shape and replayed by chainrule's compiled
executor (``chainrule.compiler``); the info column says whether its fused kernels run on numba
or on their NumPy fallback.
"""

from __future__ import annotations

from .chainrule_fit import make


def kernel_backend() -> str:
    """'numba' or 'numpy': what chainrule's kernels run on ('?' if it cannot say)."""
    try:
        from chainrule.primitives import kernels
        return kernels.backend()
    except (ImportError, AttributeError):
        return "?"


def build(data, batch_size: int, seed: int, model="book"):
    """Harness entry point (see peers.common)."""
    return make(data, batch_size, seed, jit_compile=True, mode=f"jit ({kernel_backend()})",
                model=model)
