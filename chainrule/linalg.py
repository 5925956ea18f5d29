"""``chainrule.linalg``: matrix functions under TensorFlow's ``tf.linalg`` names."""

from .ops import (  # noqa: F401
    det, diag_part, einsum, eye, inv, l2_normalize, matmul, matrix_transpose, norm, solve,
    tensordot, trace,
)
