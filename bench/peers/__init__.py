"""Registry of the implementations the benchmark knows: report name -> module in this package.

Every module has ``build(data, batch_size, seed, model)`` (see ``peers.common`` for the
contract). Adding an implementation is one line here. The order is the report's order; ratios
are taken against "numpy" (the baseline) and "jax" (the reference).
"""

REGISTRY = {
    "numpy": "numpy_loop",  # hand-written NumPy loop: the baseline
    "floor": "floor",  # matmuls alone: the lower bound
    "torch": "torch_loop",  # PyTorch eager + autograd
    "jax": "jax_loop",  # JAX, jit-compiled step
    "keras": "keras_loop",  # Keras 3 model.fit
    "chainrule-fit": "chainrule_fit",  # chainrule.keras Sequential.fit, eager
    "chainrule-jit": "chainrule_jit",  # the same, compile(jit_compile=True)
    "chainrule-jit-dense": "chainrule_jit_dense",  # the same, without zero-skipping
    "chainrule-jit-native": "chainrule_jit_native",  # the same, as native segments
}

BASELINE = "numpy"
REFERENCE = "jax"
