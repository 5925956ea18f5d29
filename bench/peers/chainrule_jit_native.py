"""``chainrule-jit`` with the native step on (``chainrule.config.set_native_step(True)``):
the compiled step's runs of fused loops, products and updates as one numba function each,
products as column slabs of one-thread gemms of NumPy's own OpenBLAS on chainrule's threads
(see ``chainrule.compiler.native``). Side by side with ``chainrule-jit``, it shows what the
native step gains.
"""

from __future__ import annotations

from .chainrule_fit import make
from .chainrule_jit import kernel_backend
from .common import Unavailable


def build(data, batch_size: int, seed: int, model="book"):
    """Harness entry point (see peers.common)."""
    try:
        import chainrule
    except ImportError as exc:
        raise Unavailable(f"not available ({exc})") from None
    if not hasattr(chainrule.config, "set_native_step"):
        raise Unavailable("chainrule.config has no set_native_step switch")
    chainrule.config.set_native_step(True)
    return make(data, batch_size, seed, jit_compile=True,
                mode=f"jit, native step ({kernel_backend()})", model=model)
