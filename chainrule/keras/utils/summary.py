"""``model.summary()``: a box table of layers, output shapes and parameter counts."""

__all__ = ["summary_text", "readable_size"]


def readable_size(num_bytes):
    """Bytes in 1024-based units, two decimals: 1628200 -> '1.55 MB'."""
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _count(weights):
    return sum(w.size for w in weights), sum(w.size * w.dtype.itemsize for w in weights)


def summary_text(model, line_length=None):
    """The summary as a string (``Model.summary`` prints it)."""
    rows = []
    for layer in model.layers:
        shape = layer._output_shape
        rows.append((f"{layer.name} ({type(layer).__name__})",
                     "?" if shape is None or not layer.built else str(shape),
                     f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"))
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) + 2 for i in range(3)]
    widths = [max(widths[0], 31), max(widths[1], 22), max(widths[2], 13)]
    if line_length:
        widths[0] = max(widths[0], line_length - widths[1] - widths[2] - 4)

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, bar):
        texts = [values[0].ljust(widths[0]), values[1].ljust(widths[1]),
                 values[2].rjust(widths[2])]
        return bar + bar.join(f" {t} " for t in texts) + bar

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), cells(headers, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        out.append(cells(row, "│"))
        if i < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    total, total_bytes = _count(model.weights)
    trainable, trainable_bytes = _count(model.trainable_weights)
    unbuilt = not model.built and total == 0
    if unbuilt:
        out.append(" Total params: 0 (unbuilt)")
    else:
        out.append(f" Total params: {total:,} ({readable_size(total_bytes)})")
        out.append(f" Trainable params: {trainable:,} ({readable_size(trainable_bytes)})")
        out.append(f" Non-trainable params: {total - trainable:,} "
                   f"({readable_size(total_bytes - trainable_bytes)})")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        count, size = _count(optimizer.variables)
        out.append(f" Optimizer params: {count:,} ({readable_size(size)})")
    return "\n".join(out)
