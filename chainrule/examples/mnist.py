"""The book's first network, end to end: read handwritten digits with two Dense layers.

    python -m chainrule.examples.mnist [--dataset mnist|fashion_mnist|digits]
                                       [--epochs N] [--batch-size N] [--seed N] [--out DIR]

Loads the data, prepares it as the book does (flattened to 784 features, float32 in
[0, 1]), trains Dense(512, relu) -> Dense(10, softmax) with RMSprop, prints the test
accuracy and the prediction for the first test image, and writes the trained model and a
PNG of the training curves to ``--out``.

When MNIST can be neither found nor downloaded, it says where to put the file and trains
on scikit-learn's 8x8 digits instead (``pip install 'chainrule[examples]'``), so the
example always runs to the end.
"""

import argparse
import os
import sys
import time

import numpy as np

import chainrule
from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.datasets import DatasetNotFoundError, fashion_mnist, mnist

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
DEFAULT_EPOCHS = {"mnist": 5, "fashion_mnist": 5, "digits": 30}


def load_digits(seed):
    """scikit-learn's 1,797 8x8 digits, split 80/20 into train and test (uint8, 0..16)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise SystemExit("The fallback data set needs scikit-learn: "
                         "pip install 'chainrule[examples]' (or pip install scikit-learn)") from None
    bunch = sklearn_digits()
    images, labels = bunch.images.astype(np.uint8), bunch.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(0.8 * len(images))
    train, test = order[:cut], order[cut:]
    return (images[train], labels[train]), (images[test], labels[test])


def load(dataset, seed):
    """The (train, test) split of ``dataset`` and the scale of its pixel values."""
    if dataset == "digits":
        return load_digits(seed), 16.0, "digits"
    loader = mnist if dataset == "mnist" else fashion_mnist
    try:
        return loader.load_data(), 255.0, dataset
    except DatasetNotFoundError as error:
        print(f"\n{error}\n", file=sys.stderr)
        print("Training on scikit-learn's 8x8 handwritten digits instead "
              "(--dataset digits selects them directly).\n", file=sys.stderr)
        return load_digits(seed), 16.0, "digits"


def prepare(images, scale):
    """(n, h, w) uint8 -> (n, h*w) float32 in [0, 1], as the book does."""
    return images.reshape((len(images), -1)).astype("float32") / np.float32(scale)


def build_model():
    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the book's two-layer network on digits.")
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist", "digits"], default="mnist")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 5 (30 for the small digits set)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the model and the plot")
    args = parser.parse_args(argv)

    chainrule.random.set_seed(args.seed)
    ((train_images, train_labels), (test_images, test_labels)), scale, dataset = \
        load(args.dataset, args.seed)
    epochs = args.epochs or DEFAULT_EPOCHS[dataset]
    print(f"{dataset}: {len(train_images)} training and {len(test_images)} test images "
          f"of {train_images.shape[1]}x{train_images.shape[2]} pixels")
    train_images, test_images = prepare(train_images, scale), prepare(test_images, scale)

    model = build_model()
    start = time.perf_counter()
    history = model.fit(train_images, train_labels, epochs=epochs, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)

    predictions = model.predict(test_images[:10], verbose=0)
    guess = int(predictions[0].argmax())
    names = FASHION_CLASSES if dataset == "fashion_mnist" else [str(d) for d in range(10)]
    print(f"first test image: predicted {names[guess]} (probability "
          f"{predictions[0][guess]:.4f}), true label {names[int(test_labels[0])]}")
    print(f"trained {epochs} epochs in {seconds:.1f} s ({seconds / epochs:.2f} s/epoch)")
    print(f"test_loss: {test_loss:.4f}")
    print(f"test_acc: {test_acc:.4f}")

    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, f"{dataset}.chainrule")
    model.save(model_path)
    print(f"saved the model to {model_path}")
    try:
        curves = history.plot(os.path.join(args.out, f"{dataset}_training.png"),
                              title=f"{dataset}: Dense(512, relu) -> Dense(10, softmax)")
        print(f"saved the training curves to {curves}")
    except ImportError as error:
        print(f"no training-curve picture: {error}")
    return test_acc


if __name__ == "__main__":
    main()
