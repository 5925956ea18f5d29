"""Gradient-check cases (test_table's SPECS) for the convolution and pooling primitives:
random ranks, windows, strides, dilations, groups and "SAME"/"VALID" padding."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.ops.nn import _explicit_padding
from chainrule.primitives import table as P
from chainrule.primitives.primitive import bind


def _values(draw, shape):
    return draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0, width=64)))


def _distinct(draw, shape):
    """Values with no two within 0.1 of each other: no ties for a window's maximum."""
    x = _values(draw, shape)
    ranks = np.argsort(np.argsort(x.ravel(), kind="stable")).reshape(shape)
    return ranks * 0.1 + x * 1e-3


def _geometry(draw, dilated=True):
    """rank, window, strides, dilation, padding and a spatial shape the window fits."""
    rank = draw(st.integers(1, 2))
    window = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(rank)) if dilated else (1,) * rank
    spatial = tuple(d * (k - 1) + 1 + draw(st.integers(0, 2))
                    for k, d in zip(window, dilation))
    padding = draw(st.sampled_from(["VALID", "SAME"]))
    pads = _explicit_padding(padding, spatial, window, strides, dilation, "test")
    return rank, window, strides, dilation, padding, pads, spatial


def _conv_setup(draw):
    rank, window, strides, dilation, padding, pads, spatial = _geometry(draw)
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    batch = draw(st.integers(1, 2))
    x = _values(draw, (batch,) + spatial + (cin,))
    w = _values(draw, window + (cin // groups, cout))
    params = dict(strides=strides, padding=pads, dilation=dilation, groups=groups)
    y_shape = P.conv_forward(x, w, **params).shape
    return x, w, params, padding, y_shape


def conv_case(draw):
    x, w, params, padding, _ = _conv_setup(draw)
    return (lambda x, w: cr.nn.convolution(x, w, params["strides"], padding,
                                           dilations=params["dilation"])), [x, w]


def conv_transpose_case(draw):
    x, w, params, _, y_shape = _conv_setup(draw)
    spatial = x.shape[1:-1]
    return (lambda y, w: bind(P.conv_transpose, (y, w), {**params, "spatial": spatial})), \
        [_values(draw, y_shape), w]


def conv_filter_grad_case(draw):
    x, w, params, _, y_shape = _conv_setup(draw)
    window = w.shape[:-2]
    return (lambda x, g: bind(P.conv_filter_grad, (x, g), {**params, "window": window})), \
        [x, _values(draw, y_shape)]


def _pool_setup(draw):
    rank, window, strides, _, padding, pads, spatial = _geometry(draw, dilated=False)
    x = _distinct(draw, (draw(st.integers(1, 2)),) + spatial + (draw(st.integers(1, 2)),))
    return x, dict(window=window, strides=strides, padding=pads), padding


def pool_case(fn):
    def make(draw):
        x, params, padding = _pool_setup(draw)
        return (lambda x: fn(x, params["window"], params["strides"], padding)), [x]
    return make


def max_pool_scatter_case(draw):
    x, params, _ = _pool_setup(draw)
    g = _values(draw, P.max_pool_forward(x, **params).shape)
    fixed = cr.constant(x)
    return (lambda g: bind(P.max_pool_scatter, (fixed, g), params)), [g]


def max_pool_gather_case(draw):
    x, params, _ = _pool_setup(draw)
    fixed = cr.constant(x)
    return (lambda h: bind(P.max_pool_gather, (fixed, h), params)), [_values(draw, x.shape)]


def avg_pool_transpose_case(draw):
    x, params, _ = _pool_setup(draw)
    g = _values(draw, P.avg_pool_forward(x, **params).shape)
    spatial = x.shape[1:-1]
    return (lambda g: bind(P.avg_pool_transpose, (g,), {**params, "spatial": spatial})), [g]


WINDOW_SPECS = {
    "conv": conv_case,
    "conv_transpose": conv_transpose_case,
    "conv_filter_grad": conv_filter_grad_case,
    "max_pool": pool_case(cr.nn.max_pool),
    "max_pool_scatter": max_pool_scatter_case,
    "max_pool_gather": max_pool_gather_case,
    "avg_pool": pool_case(cr.nn.avg_pool),
    "avg_pool_transpose": avg_pool_transpose_case,
}
WINDOW_SECOND_ORDER = ["conv", "conv_transpose", "conv_filter_grad", "max_pool", "avg_pool"]
