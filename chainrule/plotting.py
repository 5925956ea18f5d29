"""Pictures of training: loss and metric curves, and sample images with predictions.

matplotlib is an optional dependency (``pip install chainrule[plot]``), imported only
when a picture is drawn, and always with the file-only ``Agg`` backend, so plotting works
on machines with no display.
"""

import math
import os

import numpy as np

__all__ = ["plot_history", "plot_samples"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install matplotlib "
                          "(or pip install 'chainrule[plot]')") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def plot_history(history, path, title=None):
    """Draws each metric of a training history (train and ``val_`` curves together) into a
    PNG (or any format matplotlib knows from the extension) and returns ``path``.

    ``history`` is a ``History`` callback or its ``.history`` dict of per-epoch lists.
    """
    logs = getattr(history, "history", history)
    names = sorted(k for k in logs if not k.startswith("val_"))
    if not names:
        raise ValueError("plot_history: the history has no metrics to draw (did fit run?)")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "o-", label=f"training {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "s--", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path, title)


def plot_samples(images, labels, path, predictions=None, columns=5, class_names=None):
    """Draws a grid of images with their labels (and predictions, red where wrong)."""
    images = np.asarray(images)
    count = len(images)
    if count == 0:
        raise ValueError("plot_samples: no images to draw")
    side = int(round(math.sqrt(images[0].size)))
    if images[0].ndim == 1 and side * side == images[0].size:
        images = images.reshape(count, side, side)
    plt = _pyplot()
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2.0 * rows), squeeze=False)
    name = (lambda c: class_names[int(c)]) if class_names is not None else (lambda c: str(int(c)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        ax.imshow(images[i], cmap="binary")
        text, colour = f"label {name(labels[i])}", "black"
        if predictions is not None:
            guess = np.argmax(predictions[i]) if np.ndim(predictions[i]) else predictions[i]
            text += f"\npredicted {name(guess)}"
            colour = "black" if int(guess) == int(labels[i]) else "red"
        ax.set_title(text, fontsize=9, color=colour)
    return _finish(fig, path)


def _finish(fig, path, title=None):
    """Titles, lays out, saves (atomically) and closes ``fig``; returns ``path``."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    _pyplot().close(fig)
    return path


def _save(fig, path):
    # Write to a temporary name and rename, so an interrupted save never leaves half a file.
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp-{os.getpid()}{ext}"
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
