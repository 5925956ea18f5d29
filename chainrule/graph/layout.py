"""Drawing a graph without Graphviz: read DOT text, lay the graph out in layers, draw it with
matplotlib.

:func:`chainrule.graph.dot.render` uses this when Graphviz's ``dot`` program is missing, so
``tf.graph.draw`` and ``keras.utils.plot_model`` still write PNG, SVG and PDF files. Three
steps, each usable alone:

* :func:`parse_dot` reads the DOT that chainrule writes (nodes, edges and their attributes,
  graph-wide ``rankdir``/``dpi``, ``node [...]``/``edge [...]`` defaults; no subgraphs);
* :func:`layout` places the nodes of a directed graph in layers, the way ``dot`` does in
  spirit: each node one layer below the lowest of its predecessors (sources pulled down next
  to their first consumer), edges that skip layers routed through bend points, the order
  within each layer improved by barycenter sweeps (each node moved to the mean position of
  its neighbours in the layer before) keeping the order with the fewest crossings, and
  positions within a layer averaged towards the neighbours without letting boxes overlap;
* :func:`draw_dot` measures the labels, calls :func:`layout` and draws boxes, ellipses,
  arrows and edge labels on a matplotlib figure, saved in the format of the file extension.
"""

import os
import re

__all__ = ["DotGraph", "Layout", "draw_dot", "layout", "parse_dot"]


class DotGraph:
    """What :func:`parse_dot` reads: ``attrs`` (graph-wide), ``nodes`` (id -> attributes, in
    the order they first appear) and ``edges`` (``(tail, head, attributes)`` triples)."""

    def __init__(self, name):
        self.name = name
        self.attrs = {}
        self.nodes = {}
        self.edges = []


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow>->|--)|(?P<id>[A-Za-z_][A-Za-z_0-9]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))'
                    r'|(?P<sym>[{}\[\]=;,])|(?P<comment>//[^\n]*|#[^\n]*|/\*.*?\*/))', re.S)


def _tokens(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"parse_dot: cannot read the DOT text at character {pos}: "
                             f"{text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group("comment"):
            continue
        if m.group("str") is not None:
            out.append(("str", _unquote(m.group("str")[1:-1])))
        elif m.group("arrow"):
            out.append(("sym", m.group("arrow")))
        elif m.group("id"):
            out.append(("id", m.group("id")))
        else:
            out.append(("sym", m.group("sym")))
    return out


def _unquote(s):
    # DOT's escapes: \n, \l, \r end a line; \" is a quote; \\ a backslash.
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) in "nlr" else m.group(1), s)


def parse_dot(text):
    """The :class:`DotGraph` of a DOT ``digraph``; raises ValueError, naming what it met, on
    DOT it does not read (subgraphs, ports, undirected graphs)."""
    toks = _tokens(text)
    i = 0

    def peek(k=0):
        return toks[i + k] if i + k < len(toks) else ("end", None)

    def take(expected=None):
        nonlocal i
        tok = peek()
        if expected is not None and tok[1] != expected:
            raise ValueError(f"parse_dot: expected {expected!r}, found {tok[1]!r}")
        i += 1
        return tok

    if peek()[1] == "strict":
        take()
    if peek()[1] != "digraph":
        raise ValueError(f"parse_dot: only a 'digraph' can be drawn without Graphviz; the text "
                         f"starts with {peek()[1]!r}")
    take()
    graph = DotGraph(take()[1] if peek()[1] != "{" else "")
    take("{")
    node_defaults, edge_defaults = {}, {}

    def attr_list():
        attrs = {}
        while peek()[1] == "[":
            take()
            while peek()[1] != "]":
                if peek()[0] == "end":
                    raise ValueError("parse_dot: an attribute list '[' has no closing ']'")
                key = take()[1]
                take("=")
                attrs[key] = take()[1]
                if peek()[1] in (",", ";"):
                    take()
            take("]")
        return attrs

    while peek()[1] != "}":
        kind, value = take()
        if kind == "end":
            raise ValueError("parse_dot: the graph has no closing '}'")
        if kind == "sym" and value == ";":
            continue
        if kind == "id" and value in ("subgraph", "cluster") or value == "{":
            raise ValueError("parse_dot: subgraphs are not drawn without Graphviz; install "
                             "Graphviz's `dot` to draw this graph")
        if kind == "id" and value in ("graph", "node", "edge") and peek()[1] == "[":
            target = {"graph": graph.attrs, "node": node_defaults, "edge": edge_defaults}[value]
            target.update(attr_list())
            continue
        if peek()[1] == "=":  # a graph attribute: rankdir=TB
            take()
            graph.attrs[value] = take()[1]
            continue
        chain = [value]
        while peek()[1] in ("->", "--"):
            if take()[1] == "--":
                raise ValueError("parse_dot: '--' is an undirected edge; only a digraph's '->' "
                                 "edges are drawn without Graphviz")
            chain.append(take()[1])
        attrs = attr_list()
        for name in chain:
            if name not in graph.nodes:
                graph.nodes[name] = dict(node_defaults)
        if len(chain) == 1:
            graph.nodes[value].update(attrs)
        for tail, head in zip(chain, chain[1:]):
            graph.edges.append((tail, head, {**edge_defaults, **attrs}))
    return graph


class Layout:
    """Where :func:`layout` put things, in points with y growing downwards (for ``rankdir``
    ``"TB"``; ``"LR"`` turns it a quarter): ``centers`` and ``sizes`` (node -> ``(x, y)``,
    ``(width, height)``), ``rank`` (node -> layer), ``routes`` (one list of points per edge,
    from the tail's border to the head's), ``label_at`` and ``label_align`` (per edge: a
    point beside its first segment and matplotlib's ``(ha, va)`` for the label there),
    ``width`` and ``height`` (the whole picture)."""

    def __init__(self, centers, sizes, rank, routes, label_at, label_align, width, height):
        self.centers, self.sizes, self.rank = centers, sizes, rank
        self.routes, self.label_at, self.label_align = routes, label_at, label_align
        self.width, self.height = width, height

    def box(self, node):
        """``(left, top, right, bottom)`` of a node."""
        (x, y), (w, h) = self.centers[node], self.sizes[node]
        return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def layout(nodes, edges, sizes, label_sizes=None, rankdir="TB", round_nodes=None,
           node_gap=18.0, rank_gap=30.0, margin=8.0, sweeps=12):
    """Places the directed graph ``nodes`` (ids, in a preferred order) and ``edges`` (``(tail,
    head)`` pairs) with ``sizes`` (id -> ``(width, height)``) and, per edge, the size of its
    label (``label_sizes``, None for none); lines meet the nodes in ``round_nodes`` (drawn as
    ellipses) on their border. Returns a :class:`Layout`. Edges point down the
    page for ``rankdir="TB"`` (right for ``"LR"``); a cycle is drawn with its closing edge
    pointing back up."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"layout: rankdir must be 'TB' or 'LR'; received {rankdir!r}")
    nodes = list(dict.fromkeys(nodes))
    for tail, head in edges:
        for n in (tail, head):
            if n not in sizes:
                raise ValueError(f"layout: edge {tail!r} -> {head!r} names a node {n!r} that "
                                 f"has no size")
    label_sizes = list(label_sizes) if label_sizes is not None else [None] * len(edges)
    turn = rankdir == "LR"  # lay out top-down with width and height swapped, then turn

    def along(size):
        return (size[1], size[0]) if turn else tuple(size)

    size = {n: along(sizes[n]) for n in nodes}
    rank = _ranks(nodes, edges)
    # Each edge becomes a chain through one bend point per layer it skips.
    chains, bends, flipped = [], {}, []
    for k, (tail, head) in enumerate(edges):
        if tail == head:
            chains.append([tail]); flipped.append(False)
            continue
        up = rank[tail] > rank[head]
        a, b = (head, tail) if up else (tail, head)
        chain = [a]
        for r in range(rank[a] + 1, rank[b]):
            bend = ("bend", k, r)
            rank[bend] = r
            bends[bend] = (6.0, 0.0)
            chain.append(bend)
        chains.append(chain + [b]); flipped.append(up)
    size.update(bends)
    nlayers = 1 + max(rank.values(), default=0)
    layers = [[] for _ in range(nlayers)]
    for n in list(nodes) + list(bends):
        layers[rank[n]].append(n)
    preds = {n: [] for n in rank}
    succs = {n: [] for n in rank}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            succs[a].append(b); preds[b].append(a)
    layers = _order(layers, preds, succs, sweeps)
    x = _place(layers, preds, succs, size, node_gap, sweeps)
    # Layer heights, and room between layers for the labels of the edges leaving each one.
    depth = [max((size[n][1] for n in layer), default=0.0) for layer in layers]
    room = [rank_gap] * nlayers
    for chain, lsize in zip(chains, label_sizes):
        if lsize is not None and len(chain) > 1:
            r = rank[chain[0]]
            room[r] = max(room[r], rank_gap + along(lsize)[1] + 6.0)
    y, top = {}, margin
    for r, layer in enumerate(layers):
        for n in layer:
            y[n] = top + depth[r] / 2
        top += depth[r] + room[r]
    ports = _ports(chains, x, size, round_nodes or ())
    routes, label_at, label_align, seen = [], [], [], {}
    for k, (chain, up) in enumerate(zip(chains, flipped)):
        if len(chain) == 1:  # a loop on one node: out of its right side and back
            n = chain[0]
            cx, cy, (w, h) = x[n], y[n], size[n]
            route = [(cx + w / 2, cy - h / 4), (cx + w / 2 + 14, cy - h / 4),
                     (cx + w / 2 + 14, cy + h / 4), (cx + w / 2, cy + h / 4)]
            mid, side = (cx + w / 2 + 18, cy), 1
        else:
            (dx0, dy0), (dx1, dy1) = ports[k]
            route = [(x[chain[0]] + dx0, y[chain[0]] + dy0)]
            for b in chain[1:-1]:  # down through the layer's band, clear of its boxes
                half = depth[rank[b]] / 2
                route += [(x[b], y[b] - half), (x[b], y[b] + half)] if half else [(x[b], y[b])]
            route.append((x[chain[-1]] + dx1, y[chain[-1]] - dy1))
            (ax_, ay), (bx, by) = route[0], route[1]
            side = -1 if bx < ax_ - 1 else 1  # beside the line, away from where it leans
            mid = ((ax_ + bx) / 2 + 4 * side, (ay + by) / 2)
            twin = seen.get((chain[0], chain[-1]), 0)
            seen[(chain[0], chain[-1])] = twin + 1
            if twin:  # a second edge between the same two nodes bows out to one side
                side = -1 if twin % 2 else 1
                bow = ((ax_ + bx) / 2 + side * 18 * ((twin + 1) // 2), (ay + by) / 2)
                route.insert(1, bow)
                mid = (bow[0] + 4 * side, bow[1])
            if up:
                route.reverse()
        routes.append(route)
        label_at.append(mid)
        if turn:
            label_align.append(("center", "top") if side > 0 else ("center", "bottom"))
        else:
            label_align.append(("left", "center") if side > 0 else ("right", "center"))
    centers = {n: (x[n], y[n]) for n in nodes}
    node_sizes = {n: size[n] for n in nodes}
    if turn:
        centers = {n: (cy, cx) for n, (cx, cy) in centers.items()}
        node_sizes = {n: (h, w) for n, (w, h) in node_sizes.items()}
        routes = [[(py, px) for px, py in route] for route in routes]
        label_at = [(py, px) for px, py in label_at]
    # The picture's extent: nodes, lines and labels; then everything moves to the margin.
    boxes = [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
             for (cx, cy), (w, h) in ((centers[n], node_sizes[n]) for n in nodes)]
    boxes += [(px, py, px, py) for route in routes for px, py in route]
    for (px, py), (ha, va), lsize in zip(label_at, label_align, label_sizes):
        if lsize is not None:
            w, h = lsize
            x0 = {"left": px, "right": px - w, "center": px - w / 2}[ha]
            y0 = {"top": py, "bottom": py - h, "center": py - h / 2}[va]
            boxes.append((x0, y0, x0 + w, y0 + h))
    x0 = min((bx[0] for bx in boxes), default=0.0) - margin
    y0 = min((bx[1] for bx in boxes), default=0.0) - margin
    width = max((bx[2] for bx in boxes), default=0.0) - x0 + margin
    height = max((bx[3] for bx in boxes), default=0.0) - y0 + margin
    centers = {n: (cx - x0, cy - y0) for n, (cx, cy) in centers.items()}
    routes = [[(px - x0, py - y0) for px, py in route] for route in routes]
    label_at = [(px - x0, py - y0) for px, py in label_at]
    return Layout(centers, node_sizes, {n: rank[n] for n in nodes}, routes, label_at,
                  label_align, width, height)


def _ports(chains, x, size, round_nodes):
    """Where each edge leaves its tail and enters its head, as offsets from the centres: the
    lines at one side of a node spread a little along it, in the order of the nodes at their
    other ends (on an ellipse, each on its border)."""
    sides = {}
    for k, chain in enumerate(chains):
        if len(chain) > 1:
            sides.setdefault((chain[0], "out"), []).append((x[chain[1]], k))
            sides.setdefault((chain[-1], "in"), []).append((x[chain[-2]], k))
    ports = {k: [None, None] for k, chain in enumerate(chains) if len(chain) > 1}
    for (n, which), ends in sides.items():
        w, h = size[n]
        ends.sort()
        step = min(10.0, 0.5 * w / max(len(ends) - 1, 1))
        for i, (_, k) in enumerate(ends):
            dx = (i - (len(ends) - 1) / 2) * step
            dy = h / 2
            if n in round_nodes:
                dy *= max(0.0, 1.0 - (2 * dx / w) ** 2) ** 0.5
            ports[k][0 if which == "out" else 1] = (dx, dy)
    return ports


def _ranks(nodes, edges):
    """Layer of each node: one below its lowest predecessor (cycles broken at the edges that
    close them); then each source moves down to sit just above its nearest successor."""
    succ = {n: [] for n in nodes}
    for tail, head in edges:
        if tail != head:
            succ[tail].append(head)
    # Depth-first search; an edge back into the current path closes a cycle and is ignored.
    state, order, back = {}, [], set()
    for start in nodes:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            n, it = stack[-1]
            child = next(it, None)
            if child is None:
                state[n] = 2
                order.append(n)
                stack.pop()
            elif state.get(child) == 1:
                back.add((n, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    order.reverse()  # a topological order of the graph without the back edges
    preds = {n: [] for n in nodes}
    for tail, head in edges:
        if tail != head and (tail, head) not in back:
            preds[head].append(tail)
    rank = {}
    for n in order:
        rank[n] = 1 + max((rank[p] for p in preds[n]), default=-1)
    for n in nodes:
        ahead = [rank[s] for s in succ[n] if (n, s) not in back]
        if not preds[n] and ahead:
            rank[n] = min(ahead) - 1
    low = min(rank.values(), default=0)
    return {n: r - low for n, r in rank.items()}


def crossings(upper, lower, succs):
    """How many edges between two adjacent layers (orders ``upper`` and ``lower``) cross."""
    at = {n: i for i, n in enumerate(lower)}
    ends = [(i, at[s]) for i, n in enumerate(upper) for s in succs[n] if s in at]
    count = 0
    for k, (a1, b1) in enumerate(ends):
        for a2, b2 in ends[k + 1:]:
            if (a1 - a2) * (b1 - b2) < 0:
                count += 1
    return count


def _total_crossings(layers, succs):
    return sum(crossings(a, b, succs) for a, b in zip(layers, layers[1:]))


def _order(layers, preds, succs, sweeps):
    """Barycenter ordering: sweeping down (then up), each node's key is the mean position of
    its neighbours in the layer just visited; the order with the fewest crossings is kept."""
    best = [list(layer) for layer in layers]
    best_count = _total_crossings(best, succs)
    current = [list(layer) for layer in layers]
    for sweep in range(sweeps):
        if best_count == 0:
            break
        down = sweep % 2 == 0
        indices = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for r in indices:
            ref = current[r - 1] if down else current[r + 1]
            pos = {n: i for i, n in enumerate(ref)}
            near = preds if down else succs

            def key(item, pos=pos, near=near):
                i, n = item
                ps = [pos[m] for m in near[n] if m in pos]
                return sum(ps) / len(ps) if ps else i * len(ref) / max(len(current[r]), 1)

            current[r] = [n for _, n in sorted(enumerate(current[r]), key=key)]
        count = _total_crossings(current, succs)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best


def _pack(desired, widths, gap):
    """Positions as near ``desired`` as the order and the gaps allow: the mean of a left-to-right
    and a right-to-left packing (each keeps every gap, so their mean does too)."""
    n = len(desired)
    if n == 0:
        return []
    sep = [0.0] + [(widths[i - 1] + widths[i]) / 2 + gap for i in range(1, n)]
    p = list(desired)
    for i in range(1, n):
        p[i] = max(desired[i], p[i - 1] + sep[i])
    q = list(desired)
    for i in range(n - 2, -1, -1):
        q[i] = min(desired[i], q[i + 1] - sep[i + 1])
    return [(a + b) / 2 for a, b in zip(p, q)]


def _place(layers, preds, succs, size, gap, sweeps):
    x = {}
    for layer in layers:
        pos = 0.0
        for n in layer:
            x[n] = pos + size[n][0] / 2
            pos += size[n][0] + gap
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        near = preds if down else succs
        order = layers if down else layers[::-1]
        for layer in order:
            desired = [sum(x[m] for m in near[n]) / len(near[n]) if near[n] else x[n]
                       for n in layer]
            for n, v in zip(layer, _pack(desired, [size[n][0] for n in layer], gap)):
                x[n] = v
    return x


# ---------------------------------------------------------------------------------- drawing

_LINE = 1.25  # line height, in font sizes


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("drawing without Graphviz needs matplotlib: pip install matplotlib "
                          "(or pip install 'chainrule[plot]')") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _measure(renderer, prop, text, fontsize):
    lines = text.split("\n")
    width = max(renderer.get_text_width_height_descent(line or " ", prop, ismath=False)[0]
                for line in lines)
    return width, len(lines) * fontsize * _LINE


def _color(value, default):
    from matplotlib.colors import to_rgba
    if not value:
        return default
    try:
        to_rgba(value)
        return value
    except ValueError:
        return default


def draw_dot(text, path, fmt=None):
    """Draws the DOT ``text`` with matplotlib into ``path`` (format: ``fmt`` or the file
    extension: png, svg, pdf, ...). Returns ``path``."""
    graph = parse_dot(text)
    fmt = fmt or os.path.splitext(str(path))[1].lstrip(".").lower()
    plt = _pyplot()
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    renderer = RendererAgg(1, 1, 72)  # at 72 dpi a pixel is a point

    def font(attrs, default):
        try:
            return float(attrs.get("fontsize", default))
        except ValueError:
            return default

    ids = list(graph.nodes)
    sizes, texts = {}, {}
    for n, attrs in graph.nodes.items():
        label = attrs.get("label", n)
        fs = font(attrs, 11.0)
        w, h = _measure(renderer, FontProperties(size=fs), label, fs)
        shape = attrs.get("shape", "ellipse")
        if shape in ("plaintext", "plain", "none"):
            sizes[n] = (w + 6, h + 4)
        elif shape in ("ellipse", "oval", "circle"):
            sizes[n] = (w * 1.3 + 14, h * 1.3 + 8)
        else:
            sizes[n] = (w + 16, h + 10)
        texts[n] = (label, fs)
    label_sizes, edge_texts = [], []
    for _, _, attrs in graph.edges:
        label = attrs.get("label", "")
        fs = font(attrs, 10.0)
        edge_texts.append((label, fs))
        label_sizes.append(_measure(renderer, FontProperties(size=fs), label, fs)
                           if label else None)
    round_nodes = {n for n, attrs in graph.nodes.items()
                   if attrs.get("shape", "ellipse") in ("ellipse", "oval", "circle")}
    lay = layout(ids, [(t, h) for t, h, _ in graph.edges], sizes, label_sizes,
                 round_nodes=round_nodes, rankdir=graph.attrs.get("rankdir", "TB").upper()
                 if graph.attrs.get("rankdir", "TB").upper() in ("TB", "LR") else "TB")
    try:
        dpi = float(graph.attrs.get("dpi", 96))
    except ValueError:
        dpi = 96.0
    # Agg draws at most 2**16 pixels a side; a big model's picture gets a lower resolution.
    dpi = min(dpi, 32000 * 72 / max(lay.width, lay.height, 1.0))
    fig = plt.figure(figsize=(lay.width / 72, lay.height / 72), dpi=dpi)
    try:
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, lay.width)
        ax.set_ylim(lay.height, 0)
        ax.axis("off")
        for (tail, head, attrs), route, at, (ha, va), (label, fs) in zip(
                graph.edges, lay.routes, lay.label_at, lay.label_align, edge_texts):
            style = attrs.get("style", "")
            color = _color(attrs.get("color"), "black")
            linestyle = ":" if "dotted" in style else "--" if "dashed" in style else "-"
            codes = [Path.MOVETO] + [Path.LINETO] * (len(route) - 1)
            ax.add_patch(FancyArrowPatch(path=Path(route, codes), arrowstyle="-|>",
                                         mutation_scale=9, color=color, linewidth=0.9,
                                         linestyle=linestyle, shrinkA=0, shrinkB=0))
            if label:
                ax.text(at[0], at[1], label, fontsize=fs, ha=ha, va=va,
                        color=_color(attrs.get("fontcolor"), "black"), parse_math=False,
                        bbox=dict(boxstyle="square,pad=0.1", facecolor="white",
                                  edgecolor="none", alpha=0.8))
        for n, attrs in graph.nodes.items():
            (cx, cy), (w, h) = lay.centers[n], lay.sizes[n]
            shape = attrs.get("shape", "ellipse")
            style = attrs.get("style", "")
            filled = "filled" in style
            face = _color(attrs.get("fillcolor"), "lightgray") if filled else "white"
            edge = _color(attrs.get("color"), "black")
            linestyle = ":" if "dotted" in style else "--" if "dashed" in style else "-"
            if shape in ("ellipse", "oval", "circle"):
                ax.add_patch(Ellipse((cx, cy), w, h, facecolor=face, edgecolor=edge,
                                     linewidth=0.9, linestyle=linestyle))
            elif shape not in ("plaintext", "plain", "none"):
                boxstyle = "round,pad=0,rounding_size=5" if "rounded" in style else \
                    "square,pad=0"
                ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=boxstyle,
                                            facecolor=face, edgecolor=edge, linewidth=0.9,
                                            linestyle=linestyle))
            label, fs = texts[n]
            ax.text(cx, cy, label, fontsize=fs, ha="center", va="center", multialignment="center",
                    linespacing=_LINE, color=_color(attrs.get("fontcolor"), "black"),
                    parse_math=False)
        fig.savefig(path, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)
    return path
