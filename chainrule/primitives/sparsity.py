"""When the product kernel leaves out the all-zero lines of its left operand: policy,
apart from the loops of :mod:`.kernels` that do it.

Tuned on the book's MNIST batches, where a third of the 784 pixels are zero in all 128
images. The thresholds are read at every product (and when the compiler plans one), so
setting them changes what follows.
"""

__all__ = ["SKIP_MIN_WORK", "SKIP_MAX_ACTIVE", "searched", "most_active"]

# A product is searched for zero lines when it has at least this many multiply-adds (the
# search costs one pass over the left operand, about 1/N of the product's work) ...
SKIP_MIN_WORK = 1 << 21
# ... and computed without them when at most this share of the lines is left: below that,
# the copies the smaller product needs cost less than the multiply-adds it saves.
# Setting it to 0 turns the skipping off.
SKIP_MAX_ACTIVE = 0.8


def searched(shape_a, shape_b):
    """Whether :func:`.kernels.matmul` may search a product of these shapes for zero lines."""
    return len(shape_a) == 2 and len(shape_b) == 2 and \
        shape_a[0] * shape_a[1] * shape_b[1] >= SKIP_MIN_WORK


def most_active(lines):
    """The most of ``lines`` lines that may hold a nonzero for leaving out the rest to pay."""
    return int(SKIP_MAX_ACTIVE * lines)
