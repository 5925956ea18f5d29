"""History: the epoch-end logs of a fit (``model.fit(...)`` returns it), and their plots
(matplotlib is imported only when one is drawn)."""

import numpy as np

from ...plotting import _finish, _pyplot, plot_history
from .callback import Callback


class History(Callback):
    """Records the epoch-end logs: ``history.history["loss"]`` is one value per epoch.
    fit adds one to every run and returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        # fit(..., diagnostics=True) fills these (see chainrule.keras.diagnostics).
        self.diagnostics = {}
        self.diagnosis = None

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name in sorted(logs or {}):
            self.history.setdefault(name, []).append(logs[name])
        self.history = dict(sorted(self.history.items()))

    def plot(self, path, title=None):
        """Draws the loss and metric curves (training and validation) into a PNG at
        ``path`` and returns the path; needs matplotlib. After ``fit(...,
        diagnostics=True)`` the picture adds the per-layer diagnostics."""
        if self.diagnostics:
            return plot_diagnostics(self, path, title=title)
        return plot_history(self.history, path, title=title)


def plot_diagnostics(history, path, title=None):
    """Draws the loss (and metric) curves with the diagnostics of a ``fit(...,
    diagnostics=True)`` run: gradient norms, update ratios, dead ReLU fractions and logit
    scale per step, on log scales where they span decades. Returns ``path``."""
    d = history.diagnostics
    logs = history.history
    plt = _pyplot()
    names = sorted(k for k in logs if not k.startswith("val_"))
    panels = len(names) + 4
    columns = 3
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    axes = list(axes.flat)
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "o-", label="training")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "s--", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    rest = axes[len(names):]
    for ax, key, label, log in zip(rest, ("grad_norm", "update_ratio", "dead_relu"),
                                   ("gradient norm per layer", "update / weight ratio per step",
                                    "dead ReLU units (fraction)"), (True, True, False)):
        for layer, values in d[key].items():
            ax.plot(np.arange(1, len(values) + 1), values, label=layer)
        if key == "update_ratio":
            ax.axhline(1e-3, color="grey", linestyle=":", label="1e-3")
        if log and any(d[key].values()):
            ax.set_yscale("log")
        if key == "dead_relu":
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(label)
        ax.set_xlabel("step")
        if d[key]:
            ax.legend(fontsize="small")
    ax = rest[3]
    ax.plot(np.arange(1, len(d["logit_scale"]) + 1), d["logit_scale"])
    ax.set_title("logits: standard deviation")
    ax.set_xlabel("step")
    for ax in axes:
        ax.grid(alpha=0.3)
    for ax in axes[panels:]:
        ax.set_visible(False)
    return _finish(fig, path, title)
