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


def _connections(model):
    """For a functional model that is not a plain chain: ``{id(layer): [text lines]}`` of
    what each layer was called on (``dense[0][0]``), as Keras's "Connected to" column;
    None otherwise."""
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        return None
    if all(len(node.input_tensors) <= 1 for node in nodes) and \
            sum(1 for node in nodes if not node.input_tensors) <= 1 and \
            len({id(t) for node in nodes for t in node.input_tensors}) == \
            sum(len(node.input_tensors) for node in nodes):
        return None  # a chain: Keras leaves the column out
    local, counts = {}, {}
    for node in nodes:  # node indices count only this model's calls of each layer
        local[id(node)] = counts.get(id(node.layer), 0)
        counts[id(node.layer)] = local[id(node)] + 1
    out = {}
    for node in nodes:
        refs = [f"{t._keras_history.layer.name}[{local.get(id(t.node), 0)}]"
                f"[{t._keras_history.tensor_index}]" for t in node.input_tensors]
        lines = [r + "," for r in refs[:-1]] + refs[-1:] if refs else ["-"]
        out.setdefault(id(node.layer), []).extend(lines)
    return out


def _shape_text(layer):
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes:
        shapes = [t.shape for t in nodes[0].output_tensors]
        return str(shapes[0]) if len(shapes) == 1 else str(shapes)
    shape = layer._output_shape
    return "?" if shape is None or not layer.built else str(shape)


def summary_text(model, line_length=None):
    """The summary as a string (``Model.summary`` prints it)."""
    connections = _connections(model)
    rows = []
    for layer in model.layers:
        row = [[f"{layer.name} ({type(layer).__name__})"], [_shape_text(layer)],
               [f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"]]
        if connections is not None:
            row.append(connections.get(id(layer), ["-"]))
        rows.append(row)
    headers = ("Layer (type)", "Output Shape", "Param #", "Connected to")[:3 + bool(connections)]
    ncols = len(headers)
    widths = [max([len(headers[i])] + [len(line) for r in rows for line in r[i]]) + 2
              for i in range(ncols)]
    minimum = (31, 22, 13, 20)
    widths = [max(w, minimum[i]) for i, w in enumerate(widths)]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - 4)

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, bar):
        texts = [v.rjust(w) if i == 2 else v.ljust(w)
                 for i, (v, w) in enumerate(zip(values, widths))]
        return bar + bar.join(f" {t} " for t in texts) + bar

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), cells(headers, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        for k in range(max(len(cell) for cell in row)):
            out.append(cells([cell[k] if k < len(cell) else "" for cell in row], "│"))
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
