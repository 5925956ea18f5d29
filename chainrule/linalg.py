"""``chainrule.linalg``: matrix functions under TensorFlow's ``tf.linalg`` names,
re-exported from :mod:`chainrule.ops.linalg` (with ``eye``, ``matrix_transpose``, ``norm``
and ``l2_normalize`` from :mod:`chainrule.ops.array` and :mod:`chainrule.ops.reduction`)."""

from .ops.linalg import det, diag_part, einsum, inv, matmul, solve, tensordot, trace  # noqa: F401
from .ops.array import eye, matrix_transpose  # noqa: F401
from .ops.reduction import l2_normalize, norm  # noqa: F401
