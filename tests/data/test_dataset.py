"""chainrule.data.Dataset against tf.data's documented behaviour."""

import collections

import numpy as np
import pytest

import chainrule as tf
from chainrule.data import Dataset


def values(ds):
    return [np.asarray(e).tolist() for e in ds]


def test_from_tensor_slices_structures():
    x, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 2])
    pairs = list(Dataset.from_tensor_slices((x, y)))
    assert len(pairs) == 3 and isinstance(pairs[0], tuple)
    assert isinstance(pairs[0][0], tf.Tensor) and pairs[0][0].numpy().tolist() == [0.0, 1.0]
    assert int(pairs[2][1]) == 2
    dicts = list(Dataset.from_tensor_slices({"a": x, "b": y}))
    assert sorted(dicts[1]) == ["a", "b"] and int(dicts[1]["b"]) == 1
    # a Python list is one array (TensorFlow's rule), floats become float32
    floats = list(Dataset.from_tensor_slices([1.5, 2.5]))
    assert floats[0].dtype == "float32" and float(floats[1]) == 2.5
    Point = collections.namedtuple("Point", "u v")
    assert type(next(iter(Dataset.from_tensor_slices(Point(y, y))))) is Point
    with pytest.raises(ValueError, match="same first dimension; received sizes \\[2, 3\\]"):
        Dataset.from_tensor_slices((np.zeros(2), np.zeros(3)))


def test_batch_and_drop_remainder():
    ds = Dataset.range(7)
    assert values(ds.batch(3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert values(ds.batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(ds.batch(3)) == 3 and len(ds.batch(3, drop_remainder=True)) == 2
    assert values(ds.batch(3).unbatch()) == list(range(7))
    with pytest.raises(ValueError, match="batch: expected a positive integer"):
        ds.batch(0)


@pytest.mark.time_limit(60)  # it takes from an endless Dataset
def test_take_skip_repeat_concatenate_enumerate():
    ds = Dataset.range(5)
    assert values(ds.take(2)) == [0, 1] and values(ds.skip(3)) == [3, 4]
    assert values(ds.take(-1)) == list(range(5)) and values(ds.skip(-1)) == []
    assert values(ds.repeat(2)) == [0, 1, 2, 3, 4] * 2 and len(ds.repeat(2)) == 10
    assert values(ds.repeat().take(7)) == [0, 1, 2, 3, 4, 0, 1]
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    assert values(ds.take(2).concatenate(ds.skip(4))) == [0, 1, 4]
    assert [(int(i), int(v)) for i, v in ds.skip(3).enumerate()] == [(0, 3), (1, 4)]
    assert ds.prefetch(tf.data.AUTOTUNE) is ds


def test_map_unpacks_tuples_and_filter():
    ds = Dataset.from_tensor_slices((np.arange(4.0), np.arange(4)))
    mapped = ds.map(lambda x, y: (x * 2.0, y + 1))
    assert [(float(a), int(b)) for a, b in mapped] == [(0, 1), (2, 2), (4, 3), (6, 4)]
    assert values(Dataset.range(6).filter(lambda v: v % 2 == 0)) == [0, 2, 4]
    assert int(Dataset.range(6).filter(lambda v: v > 2).cardinality()) == tf.data.UNKNOWN_CARDINALITY
    dicts = Dataset.from_tensor_slices({"a": np.arange(3)}).map(lambda d: d["a"] * 10)
    assert values(dicts) == [0, 10, 20]


def test_shuffle_is_a_permutation_reshuffled_each_epoch():
    ds = Dataset.range(50).shuffle(50, seed=3)
    first, second = values(ds), values(ds)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second and first != list(range(50))
    again = Dataset.range(50).shuffle(50, seed=3)
    assert values(again) == first  # the seed makes the orders repeatable
    fixed = Dataset.range(50).shuffle(50, seed=3, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)


def test_a_small_buffer_only_mixes_nearby_elements():
    order = values(Dataset.range(100).shuffle(2, seed=0))
    assert sorted(order) == list(range(100))
    # with a buffer of 2, element i can come out no earlier than position i - 1
    assert all(pos >= v - 1 for pos, v in enumerate(order))


def test_shuffle_without_seed_follows_set_random_seed():
    from chainrule import keras
    keras.utils.set_random_seed(1)
    a = values(Dataset.range(20).shuffle(20))
    keras.utils.set_random_seed(1)
    assert values(Dataset.range(20).shuffle(20)) == a


def test_zip_and_generators():
    a, b = Dataset.range(3), Dataset.range(10, 14)
    assert [(int(x), int(y)) for x, y in Dataset.zip((a, b))] == [(0, 10), (1, 11), (2, 12)]

    def gen():
        for i in range(3):
            yield i, [i] * 2

    ds = Dataset.from_generator(gen)
    assert [(int(x), y.numpy().tolist()) for x, y in ds] == [(0, [0, 0]), (1, [1, 1]), (2, [2, 2])]
    assert len(list(ds)) == 3  # the generator is called afresh
    with pytest.raises(TypeError, match="The dataset length is unknown"):
        len(ds)
