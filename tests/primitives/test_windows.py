"""Convolution and pooling against NumPy references written plainly (a loop over every output
entry), the transposes against their definition as adjoints, and the tf.nn names."""

import itertools

import numpy as np
import pytest

import chainrule as tf
from chainrule.primitives import table as P


def pad(x, padding, value=0.0):
    return np.pad(x, [(0, 0)] + [tuple(p) for p in padding] + [(0, 0)], constant_values=value)


def out_size(n, k, s, d):
    return (n - d * (k - 1) - 1) // s + 1


def ref_conv(x, w, strides, padding, dilation, groups):
    padded = pad(x, padding)
    rank = x.ndim - 2
    window = w.shape[:rank]
    per_group, cout = w.shape[-2], w.shape[-1]
    out = [out_size(n, k, s, d) for n, k, s, d in zip(padded.shape[1:-1], window, strides, dilation)]
    y = np.zeros((x.shape[0], *out, cout))
    for b in range(x.shape[0]):
        for o in itertools.product(*map(range, out)):
            for c in range(cout):
                group = c // (cout // groups)
                total = 0.0
                for k in itertools.product(*map(range, window)):
                    at = tuple(oi * s + ki * d for oi, ki, s, d in zip(o, k, strides, dilation))
                    for ci in range(per_group):
                        total += padded[(b,) + at + (group * per_group + ci,)] * w[k + (ci, c)]
                y[(b,) + o + (c,)] = total
    return y


def ref_pool(x, window, strides, padding, kind):
    padded = pad(x, padding, -np.inf if kind == "max" else np.nan)
    out = [out_size(n, k, s, 1) for n, k, s in zip(padded.shape[1:-1], window, strides)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for b in range(x.shape[0]):
        for o in itertools.product(*map(range, out)):
            for c in range(x.shape[-1]):
                seen = np.array([padded[(b,) + tuple(oi * s + ki for oi, ki, s in
                                                     zip(o, k, strides)) + (c,)]
                                 for k in itertools.product(*map(range, window))])
                y[(b,) + o + (c,)] = seen.max() if kind == "max" else np.nanmean(seen)
    return y


def same_pads(spatial, window, strides, dilation):
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilation):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


rng = np.random.default_rng(0)
CONV_CASES = [(rank, s, d, padding, groups)
              for rank in (1, 2) for s in (1, 2) for d in (1, 2)
              for padding in ("VALID", "SAME") for groups in (1, 2)]


@pytest.mark.parametrize("rank, stride, dilation, padding, groups", CONV_CASES)
def test_conv_and_its_adjoints_match_loops(rank, stride, dilation, padding, groups):
    x = rng.normal(size=(2,) + (7,) * rank + (4,))
    w = rng.normal(size=(3,) * rank + (4 // groups, 6))
    strides, dilations = (stride,) * rank, (dilation,) * rank
    y = tf.nn.convolution(x, w, strides, padding, dilations=dilations).numpy()
    pads = same_pads(x.shape[1:-1], w.shape[:-2], strides, dilations) if padding == "SAME" \
        else ((0, 0),) * rank
    np.testing.assert_allclose(y, ref_conv(x, w, strides, pads, dilations, groups), rtol=1e-10)
    # conv_transpose and conv_filter_grad are conv's adjoints in its input and its kernel
    params = dict(strides=strides, padding=pads, dilation=dilations, groups=groups)
    g = rng.normal(size=y.shape)
    gx = P.conv_transpose_forward(g, w, spatial=x.shape[1:-1], **params)
    gw = P.conv_filter_grad_forward(x, g, window=w.shape[:-2], **params)
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose([np.vdot(gx, x), np.vdot(gw, w)], np.vdot(g, y), rtol=1e-10)


@pytest.mark.parametrize("rank, window, stride, padding",
                         [(r, k, s, p) for r in (1, 2) for k in (2, 3) for s in (1, 2, 3)
                          for p in ("VALID", "SAME")])
def test_pooling_matches_loops(rank, window, stride, padding):
    x = rng.normal(size=(2,) + (7,) * rank + (3,))
    pads = same_pads(x.shape[1:-1], (window,) * rank, (stride,) * rank, (1,) * rank) \
        if padding == "SAME" else ((0, 0),) * rank
    for kind, fn in (("max", tf.nn.max_pool), ("avg", tf.nn.avg_pool)):
        y = fn(x, window, stride, padding).numpy()
        np.testing.assert_allclose(y, ref_pool(x, (window,) * rank, (stride,) * rank, pads, kind),
                                   rtol=1e-12)
    params = dict(window=(window,) * rank, strides=(stride,) * rank, padding=pads)
    g, h = rng.normal(size=y.shape), rng.normal(size=x.shape)
    back = P.avg_pool_transpose_forward(g, spatial=x.shape[1:-1], **params)
    np.testing.assert_allclose(np.vdot(back, x), np.vdot(g, y), rtol=1e-10)
    scattered = P.max_pool_scatter_forward(x, g, **params)
    gathered = P.max_pool_gather_forward(x, h, **params)
    np.testing.assert_allclose(np.vdot(scattered, h), np.vdot(gathered, g), rtol=1e-10)
    assert np.array_equal(P.max_pool_gather_forward(x, x, **params),
                          P.max_pool_forward(x, **params))


def test_max_pool_gradient_goes_to_the_first_maximum_of_a_tie():
    x = tf.Variable(np.array([[[[1.0], [3.0], [3.0], [0.0]]]]))  # (1, 1, 4, 1)
    with tf.GradientTape() as tape:
        y = tf.nn.max_pool2d(x, (1, 4), 1, "VALID")
    assert tape.gradient(y, x).numpy().ravel().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_tf_nn_names_and_layouts():
    x = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    y = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME")
    assert y.shape == (2, 3, 3, 4) and y.dtype == np.float32
    first = tf.nn.conv2d(x.transpose(0, 3, 1, 2), w, 2, "SAME", data_format="NCHW")
    np.testing.assert_array_equal(first.numpy(), y.numpy().transpose(0, 3, 1, 2))
    explicit = tf.nn.conv2d(x, w, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])
    np.testing.assert_array_equal(explicit.numpy(), tf.nn.conv2d(x, w, 1, "SAME").numpy())
    assert tf.nn.conv1d(x[:, 0], w[0], stride=1, padding="VALID").shape == (2, 3, 4)
    assert tf.nn.max_pool2d(x, 2, 2, "VALID").shape == (2, 3, 2, 3)
    assert tf.nn.avg_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME").shape \
        == (2, 3, 3, 3)
    assert tf.nn.max_pool1d(x[:, 0], 2, 2).shape == (2, 2, 3)
    # conv2d_transpose is conv2d's gradient with respect to its input
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = tf.nn.conv2d(xv, w, 2, "SAME")
    g = rng.normal(size=out.shape).astype(np.float32)
    expected = tape.gradient(out, xv, output_gradients=tf.constant(g))
    back = tf.nn.conv2d_transpose(g, w, output_shape=(2, 6, 5, 3), strides=2, padding="SAME")
    np.testing.assert_array_equal(back.numpy(), expected.numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: tf.nn.conv2d(np.zeros((4, 4, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32),
                          1, "VALID"), "must have rank 4"),
    (lambda: tf.nn.conv2d(np.zeros((1, 2, 2, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32),
                          1, "VALID"), "does not fit.*padding='SAME'"),
    (lambda: tf.nn.conv2d(np.zeros((1, 4, 4, 3), np.float32), np.zeros((3, 3, 2, 1), np.float32),
                          1, "VALID"), "multiple of the filters'"),
    (lambda: tf.nn.conv2d(np.zeros((1, 4, 4, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32),
                          1, "FULL"), "padding must be"),
    (lambda: tf.nn.conv2d_transpose(np.zeros((1, 3, 3, 1), np.float32),
                                    np.zeros((3, 3, 1, 1), np.float32), (1, 4, 4, 1), 2),
     "give the output_shape"),
])
def test_bad_arguments_say_what_to_change(call, message):
    with pytest.raises(ValueError, match=message):
        call()
