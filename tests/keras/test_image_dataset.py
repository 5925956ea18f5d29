"""keras.utils.image_dataset_from_directory on small folders of PNG, JPEG and GIF files made
in tmp_path: labels from subfolders, label modes, colour modes, resizing, splits, shuffling,
errors, and a model trained from it; load_img and img_to_array."""

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers

from ._helpers import keras_fixture_arrays

Image = pytest.importorskip("PIL.Image")
image_dataset_from_directory = keras.utils.image_dataset_from_directory


def make_folder(root, counts, size=(6, 8), fmt="png"):
    """``counts``: {class name: how many images}; image i of class k is filled with
    10 * k + i in every pixel and channel (so a batch says where each image came from)."""
    for k, (name, n) in enumerate(sorted(counts.items())):
        (root / name).mkdir(parents=True)
        for i in range(n):
            value = 10 * k + i
            pixels = np.full(size + (3,), value, np.uint8)
            Image.fromarray(pixels).save(root / name / f"img_{i}.{fmt}")
    return root


def collect(dataset):
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_labels_are_inferred_from_subfolders_in_alphabetical_order(tmp_path, capsys):
    root = make_folder(tmp_path / "data", {"dogs": 3, "cats": 2, "birds": 4})
    (root / "notes.txt").write_text("not an image")
    ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4, shuffle=False)
    assert capsys.readouterr().out == "Found 9 files belonging to 3 classes.\n"
    assert ds.class_names == ["birds", "cats", "dogs"] and len(ds) == 3
    batches = list(ds)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 6, 8, 3), (4, 6, 8, 3), (1, 6, 8, 3)]
    images, labels = collect(ds)
    assert images.dtype == np.float32 and labels.dtype == np.int32
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert images[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 10, 11, 20, 21, 22]
    assert [p.split("/")[-2:] for p in ds.file_paths][:2] == [["birds", "img_0.png"],
                                                              ["birds", "img_1.png"]]


def test_label_modes_and_class_names(tmp_path):
    root = make_folder(tmp_path / "data", {"a": 2, "b": 3})
    kw = dict(image_size=(6, 8), shuffle=False, verbose=False)
    _, categorical = collect(image_dataset_from_directory(root, label_mode="categorical", **kw))
    assert categorical.dtype == np.float32 and categorical.tolist()[1:3] == [[1, 0], [0, 1]]
    _, binary = collect(image_dataset_from_directory(root, label_mode="binary", **kw))
    assert binary.shape == (5, 1) and binary.ravel().tolist() == [0, 0, 1, 1, 1]
    reordered = image_dataset_from_directory(root, class_names=["b", "a"], **kw)
    assert reordered.class_names == ["b", "a"]
    assert collect(reordered)[1].tolist() == [0, 0, 0, 1, 1]
    only_images = image_dataset_from_directory(root, labels=None, **kw)
    assert [tuple(x.shape) for x in only_images] == [(5, 6, 8, 3)]
    given = image_dataset_from_directory(root, labels=[4, 3, 2, 1, 0], **kw)
    assert collect(given)[1].tolist() == [4, 3, 2, 1, 0]
    one_by_one = image_dataset_from_directory(root, batch_size=None, **kw)
    first_image, first_label = next(iter(one_by_one))
    assert first_image.shape == (6, 8, 3) and int(first_label) == 0 and len(one_by_one) == 5


def test_colour_modes_resizing_and_aspect_ratio(tmp_path):
    root = tmp_path / "data"
    (root / "x").mkdir(parents=True)
    gradient = np.tile(np.arange(0, 240, 30, dtype=np.uint8), (4, 1))  # 4 x 8, columns 0..210
    Image.fromarray(np.stack([gradient, gradient // 2, 255 - gradient], -1)).save(
        root / "x" / "g.png")
    kw = dict(shuffle=False, verbose=False)
    gray = next(iter(image_dataset_from_directory(root, color_mode="grayscale",
                                                  image_size=(4, 8), **kw)))[0]
    assert gray.shape == (1, 4, 8, 1)
    rgba = next(iter(image_dataset_from_directory(root, color_mode="rgba", image_size=(4, 8),
                                                  **kw)))[0].numpy()
    assert rgba.shape == (1, 4, 8, 4) and np.all(rgba[..., 3] == 255)
    # halving the width: bilinear with half-pixel centres averages each pair of columns
    half = next(iter(image_dataset_from_directory(root, image_size=(4, 4), **kw)))[0].numpy()
    np.testing.assert_allclose(half[0, 0, :, 0], [15, 75, 135, 195])
    nearest = next(iter(image_dataset_from_directory(root, image_size=(4, 4),
                                                     interpolation="nearest", **kw)))[0].numpy()
    assert nearest[0, 0, :, 0].tolist() == [30, 90, 150, 210]
    cropped = next(iter(image_dataset_from_directory(root, image_size=(2, 2),
                                                     crop_to_aspect_ratio=True, **kw)))[0].numpy()
    assert cropped[0, 0, :, 0].tolist() == [75, 135]  # the middle 4 x 4, halved
    padded = next(iter(image_dataset_from_directory(root, image_size=(8, 8),
                                                    pad_to_aspect_ratio=True, **kw)))[0].numpy()
    assert np.all(padded[0, :2] == 0) and np.all(padded[0, 6:] == 0)
    np.testing.assert_array_equal(padded[0, 2:6, :, 0], np.tile(gradient, (1, 1)))
    bicubic = next(iter(image_dataset_from_directory(root, image_size=(8, 16),
                                                     interpolation="bicubic", **kw)))[0]
    assert bicubic.shape == (1, 8, 16, 3)


def test_jpeg_and_gif_files_are_read(tmp_path):
    root = make_folder(tmp_path / "jpg", {"a": 2, "b": 1}, fmt="jpg")
    images, labels = collect(image_dataset_from_directory(root, image_size=(6, 8),
                                                          shuffle=False, verbose=False))
    np.testing.assert_allclose(images[:, 0, 0, 0], [0, 1, 10], atol=2)  # JPEG is lossy
    gif = make_folder(tmp_path / "gif", {"a": 1}, fmt="gif")
    assert collect(image_dataset_from_directory(gif, image_size=(6, 8), verbose=False))[0].shape \
        == (1, 6, 8, 3)


def test_validation_split_and_shuffling(tmp_path, capsys):
    root = make_folder(tmp_path / "data", {"a": 10, "b": 10})
    kw = dict(image_size=(6, 8), validation_split=0.25, seed=3, batch_size=4)
    train = image_dataset_from_directory(root, subset="training", **kw)
    val = image_dataset_from_directory(root, subset="validation", **kw)
    out = capsys.readouterr().out
    assert "Using 15 files for training." in out and "Using 5 files for validation." in out
    assert sorted(train.file_paths + val.file_paths) == sorted(
        str(p) for p in root.rglob("*.png"))
    assert not set(train.file_paths) & set(val.file_paths)
    both = image_dataset_from_directory(root, subset="both", **{**kw, "verbose": False})
    assert both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    first, second = collect(train), collect(train)  # a new order at every pass ...
    assert not np.array_equal(first[0], second[0])
    assert sorted(first[0][:, 0, 0, 0]) == sorted(second[0][:, 0, 0, 0])
    # ... and each image keeps its own label
    assert np.array_equal(first[1], (first[0][:, 0, 0, 0] >= 10).astype(np.int32))
    again = image_dataset_from_directory(root, subset="training", **{**kw, "verbose": False})
    np.testing.assert_array_equal(collect(again)[0], first[0])  # repeatable from the seed


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_mode="sparse"), "label_mode must be"),
    (dict(color_mode="cmyk"), "color_mode must be"),
    (dict(interpolation="gaussian"), "interpolation must be one of"),
    (dict(validation_split=0.2), "needs subset="),
    (dict(subset="training"), "needs a validation_split"),
    (dict(validation_split=0.2, subset="training"), "give a seed"),
    (dict(labels="folders"), "labels must be 'inferred', None or a list"),
    (dict(labels=[0, 1]), "one integer per image file: found 3 files"),
    (dict(class_names=["a", "c"]), "class_names must name every subfolder"),
    (dict(label_mode="binary", class_names=None), None),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    root = make_folder(tmp_path / "data", {"a": 2, "b": 1})
    if message is None:  # two classes: binary is fine
        image_dataset_from_directory(root, verbose=False, **kwargs)
        return
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(root, verbose=False, **kwargs)


def test_binary_needs_two_classes_and_an_empty_folder_says_so(tmp_path):
    root = make_folder(tmp_path / "data", {"a": 1, "b": 1, "c": 1})
    with pytest.raises(ValueError, match="label_mode='binary' needs exactly 2 classes; found 3"):
        image_dataset_from_directory(root, label_mode="binary", verbose=False)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images found in directory"):
        image_dataset_from_directory(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        image_dataset_from_directory(tmp_path / "missing")


def test_a_model_trains_on_the_dataset(tmp_path):
    root = make_folder(tmp_path / "data", {"dark": 6, "light": 0})
    for i in range(6):  # the light class: bright images
        (root / "light").mkdir(exist_ok=True)
        Image.fromarray(np.full((6, 8, 3), 200 + i, np.uint8)).save(root / "light" / f"{i}.png")
    train, val = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4,
                                              validation_split=0.25, subset="both", seed=1,
                                              label_mode="binary", verbose=False)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(6, 8, 3)), layers.Rescaling(1 / 255),
                              layers.RandomFlip("horizontal"), layers.Conv2D(2, 3),
                              layers.GlobalAveragePooling2D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train.prefetch(-1), validation_data=val, epochs=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert model.predict(val, verbose=0).shape == (3, 1)


def test_load_img_and_img_to_array(tmp_path):
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = keras.utils.load_img(tmp_path / "a.png")
    array = keras.utils.img_to_array(image)
    assert array.dtype == np.float32 and np.array_equal(array, pixels)
    small = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", target_size=(2, 3),
                                                          color_mode="grayscale"))
    assert small.shape == (2, 3, 1)
    assert keras.utils.img_to_array(image, data_format="channels_first").shape == (3, 4, 6)


def test_resizing_matches_keras():
    """fixtures/keras_resize.json: keras.ops.image.resize (made by make_keras_convnet.py)."""
    from chainrule.keras.utils.image_dataset import _resize
    made = keras_fixture_arrays("keras_resize.json")
    names = [name for name in made if name != "image"]
    assert len(names) == 6
    for name in names:
        size, how = name.split("_")
        got = _resize(made["image"], tuple(int(n) for n in size.split("x")), how)
        np.testing.assert_allclose(got, made[name], rtol=1e-6, atol=1e-4, err_msg=name)
