"""Why a gradient is None, in words.

``GradientTape.gradient`` returns ``None`` for a source the target does not depend on
through recorded differentiable ops. That is TensorFlow's behaviour and it is silent;
:meth:`GradientTape.explain` says which of these happened:

* the source was never watched (a constant: call ``tape.watch``; a Variable with
  ``trainable=False``; or a tape made with ``watch_accessed_variables=False``);
* the source was used only outside the tape's block (computed before ``with``, or inside
  ``stop_recording()``), so the tape never saw the ops that connect it to the target;
* the path passes through a non-differentiable op (``argmax``, a comparison, ...), through
  ``stop_gradient``, or through a cast to an integer dtype;
* there is no path at all: the ops that use the source never lead to the target.

The analysis works on a :class:`PathTrace`: the tape's records reduced to primitive names
and tensor ids, with no arrays. A live tape builds one on demand. A one-shot tape releases
its arrays after ``gradient()``; when some gradient came out ``None`` it keeps a PathTrace
(a few ints per op), so ``explain`` still works afterwards for the pairs it was asked about.
"""

from ..tensor import Tensor
from ..variable import Variable


class PathTrace:
    """The shape of what a tape recorded: ids and primitives, no arrays.

    ``edges`` is a list of ``(primitive, input_ids, output_id)`` for every recorded op and
    every op cut off by a non-differentiable primitive; ``blocked`` the ids of results of
    the latter; ``watched`` the ids of watched sources; ``cuts`` the ``(primitive,
    input_id, output_id)`` edges where a reverse sweep found no gradient (``stop_gradient``,
    integer casts).
    """

    __slots__ = ("edges", "blocked", "watched", "cuts", "auto_watch")

    def __init__(self, edges, blocked, watched, cuts, auto_watch):
        self.edges = edges
        self.blocked = blocked
        self.watched = watched
        self.cuts = cuts
        self.auto_watch = auto_watch

    @classmethod
    def of(cls, tape, cuts):
        edges = [(prim, tuple(id(x) for x in inputs), id(out))
                 for prim, inputs, _params, out, _needs in tape._records]
        edges += [(prim, tuple(id(x) for x in inputs), key)
                  for key, (prim, inputs, _out) in tape._blocked.items()]
        return cls(edges, set(tape._blocked), set(tape._watched),
                   [tuple(c) for c in cuts], tape._auto_watch)


def explain(trace, targets, source):
    """The reason, as a sentence or two, that ``d targets / d source`` is or is not None."""
    what = _describe(source)
    if not isinstance(source, Tensor):
        return f"the source is a {type(source).__name__}, not a tensor; only tensors have gradients"
    if source.dtype.kind not in "fc":
        return (f"{what} has dtype {source.dtype}: only floating tensors have gradients "
                f"(cast it to float32 before the computation if it should have one)")
    if id(source) not in trace.watched:
        return _not_watched(trace, source, what)

    children, parents = _adjacency(trace.edges)
    downstream = _reach({id(source)}, children)
    target_ids = {id(t) for t in targets}
    if len(downstream) == 1:
        return (f"{what} is watched, but no op inside the tape's block used it: it was used "
                f"only outside the tape (for example the target, or a value on the way to "
                f"it, was computed before the `with GradientTape()` block or inside "
                f"stop_recording()). Move that computation inside the block.")
    upstream = _reach(target_ids, parents)
    on_path = downstream & upstream
    if not on_path & target_ids:
        produced = {out for _p, _i, out in trace.edges} | trace.watched
        if not target_ids & produced:
            return (f"there is no path from {what} to the target: the target was not "
                    f"computed by any op this tape recorded (it was computed outside the "
                    f"tape's block, or only from unwatched tensors)")
        return (f"there is no path from {what} to the target: the tape recorded "
                f"{_count_uses(trace.edges, id(source))} op(s) that use the source, but none "
                f"of what they compute leads to the target")

    if _differentiable_reach(trace, id(source)) & target_ids:
        return (f"the target depends on {what} through recorded differentiable ops, so its "
                f"gradient is not None")
    reasons = _cuts_on_path(trace, on_path)
    if not reasons:
        return f"no gradient flows from the target back to {what} (no recorded op explains why)"
    return (f"the path from {what} to the target passes through "
            + "; and through ".join(reasons) + ", so no gradient flows back to the source")


def _not_watched(trace, source, what):
    if isinstance(source, Variable):
        if not source.trainable:
            return (f"{what} was not watched: it has trainable=False, and a tape only "
                    f"watches trainable Variables automatically. Call tape.watch(v) inside "
                    f"the block to differentiate with respect to it.")
        if not trace.auto_watch:
            return (f"{what} was not watched: the tape was made with "
                    f"watch_accessed_variables=False. Call tape.watch(v) inside the block.")
        return (f"{what} was never read by an op inside the tape's block, so the tape did "
                f"not watch it: it was used only outside the tape. If the target depends "
                f"on it, that part was computed outside the block (before `with "
                f"GradientTape()` or inside stop_recording()); move it inside the block.")
    return (f"{what} was not watched: it is a constant (a tape watches only trainable "
            f"Variables by itself). Call tape.watch(x) inside the block, before x is used, "
            f"or make it a chainrule.Variable.")


def _cuts_on_path(trace, on_path):
    reasons = []
    for prim, input_ids, out in trace.edges:
        if out in trace.blocked and out in on_path and any(
                i in on_path and i not in trace.blocked for i in input_ids):
            why = prim.why or "it has no derivative rule"
            reasons.append(f"`{prim.name}`, which is not differentiable ({why})")
    for prim, input_id, out in trace.cuts:
        if input_id in on_path and out in on_path:
            reasons.append(_cut_reason(prim))
    unique = []
    for r in reasons:
        if r not in unique:
            unique.append(r)
    return unique


def _differentiable_reach(trace, source_id):
    """What the source reaches through edges that carry a gradient (no cut, no blocked op)."""
    cut = {(i, out) for _prim, i, out in trace.cuts}
    links = {}
    for _prim, input_ids, out in trace.edges:
        if out not in trace.blocked:
            for i in input_ids:
                if (i, out) not in cut:
                    links.setdefault(i, []).append(out)
    return _reach({source_id}, links)


def _cut_reason(prim):
    if prim.cut_reason is not None:  # the table's words for this op (stop_gradient, cast)
        return prim.cut_reason
    return f"`{prim.name}`, whose derivative rule gives no gradient for that input"


def _adjacency(edges):
    children, parents = {}, {}
    for _prim, input_ids, out in edges:
        for i in input_ids:
            children.setdefault(i, []).append(out)
        parents.setdefault(out, []).extend(input_ids)
    return children, parents


def _reach(start, links):
    """Every id reachable from ``start`` through ``links`` (no recursion: graphs may be deep)."""
    seen, stack = set(start), list(start)
    while stack:
        for nxt in links.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _count_uses(edges, source_id):
    return sum(1 for _p, input_ids, _o in edges if source_id in input_ids)


def _describe(t):
    if isinstance(t, Variable):
        return f"Variable '{t.name}'"
    if isinstance(t, Tensor):
        return f"the {type(t).__name__.lstrip('_')} of shape {t.shape}"
    return repr(t)
