"""Keras 3's weights files (``model.save_weights("w.weights.h5")``), written and read with
``h5py`` (``pip install 'chainrule[h5]'``), in Keras 3's layout:

* the model's own variables under ``vars`` (a group whose ``name`` attribute is the model's);
* each layer of ``model.layers`` under ``layers/<class name in snake case>``, the second and
  later of one class with ``_1``, ``_2``, ...; its variables as the datasets ``vars/0``,
  ``vars/1``, ... in ``layer.weights`` order; a nested model's layers below its group alike.

A file is untrusted input: only datasets stored in the file itself are read (no links to
other files, no external storage), each only once its shape has matched the variable it
fills, so nothing larger than the model is ever allocated; every failure is a
:class:`~chainrule.keras.untrusted.SavedModelError` naming the file.
"""

import os
import tempfile

import numpy as np

from ._registry import snake_case
from .untrusted import ModelFileNotFoundError, SavedModelError

__all__ = ["save_weights", "load_weights"]


def _h5py():
    try:
        import h5py  # optional: chainrule[h5]
    except ImportError as error:
        raise ImportError("Keras's .weights.h5 files are HDF5: pip install 'chainrule[h5]' "
                          "(or pip install h5py), or save to a .chainrule file") from error
    return h5py


def layout(model):
    """``{group path: [variables]}`` of ``model`` in Keras 3's layout."""
    groups = {}
    _walk(model, "", groups)
    return groups


def _walk(layer, prefix, groups):
    if not _is_model(layer):
        own = _held_layers(layer)
        nested = {id(w) for _, child in own for w in child.weights}
        groups[prefix + "vars"] = (layer.name, [w for w in layer.weights
                                                if id(w) not in nested])
        for attribute, child in own:
            _walk(child, f"{prefix}{attribute}/", groups)
        return
    children = keras_layer_order(layer)
    nested = {id(w) for child in children for w in child.weights}
    groups[prefix + "vars"] = (layer.name, [w for w in layer.weights if id(w) not in nested])
    seen = {}
    for child in children:
        key = snake_case(type(child).__name__)
        count = seen.get(key, 0)
        seen[key] = count + 1
        _walk(child, f"{prefix}layers/{key}{f'_{count}' if count else ''}/", groups)


def keras_variable_order(model):
    """``model``'s variables in the order of Keras's ``model.variables``: a model's own, then
    each layer's in Keras's layer order; a layer that holds layers lists its own and theirs
    in the order it made them (not the files' alphabetical order of groups)."""
    if not _is_model(model):
        return list(model.weights)
    children = keras_layer_order(model)
    nested = {id(w) for child in children for w in child.weights}
    out = [w for w in model.weights if id(w) not in nested]
    for child in children:
        out += keras_variable_order(child)
    return out


def _held_layers(layer):
    """``[(group name, sublayer)]`` of a layer (not a model) that holds layers in its
    attributes, as Keras's files name them: by attribute, the name Keras's class exposes it
    under where the layer says (``_keras_paths``), public names before private ones, each
    in alphabetical order."""
    from .layers.layer import Layer  # (the layers import this module's users)

    paths = getattr(type(layer), "_keras_paths", {})
    found, seen = [], set()
    for attribute, value in vars(layer).items():
        if isinstance(value, Layer) and id(value) not in seen:
            seen.add(id(value))
            found.append((paths.get(attribute, attribute), value))
    if len(found) != len(layer._sublayers()):
        raise SavedModelError(f"layer '{layer.name}' holds layers in lists or dicts: its Keras "
                              f"weights layout is not written by chainrule yet; use a "
                              f".chainrule file")
    return sorted(found, key=lambda item: ("~" + item[0]) if item[0].startswith("_")
                  else item[0])


def keras_layer_order(model):
    """``model.layers`` in the order Keras 3 keeps them, which numbers the groups of its
    files. A Sequential's is its own. A functional model's: the layers farthest from the
    outputs first (a layer's depth is the longest path from it to an output), those of one
    depth in the order a depth-first walk from the outputs first meets them; an input that
    no output uses comes last."""
    if not (hasattr(model, "_nodes") and hasattr(model, "_outputs")):
        return list(getattr(model, "layers", None) or [])
    inputs = {id(t) for t in model._inputs}
    finished, order, first_seen = set(), [], {}
    for output in model._outputs:  # the walk, without recursion
        stack = [(False, output)]
        while stack:
            done, item = stack.pop()
            if done:
                if id(item) not in finished:
                    finished.add(id(item))
                    order.append(item)
                continue
            node = item.node
            if id(node) in finished:
                continue
            if id(item) in inputs and node.input_tensors:  # a model input made by a layer
                finished.add(id(node))
                continue
            first_seen.setdefault(id(node.layer), (len(first_seen), node.layer))
            stack.append((True, node))
            stack.extend((False, t) for t in reversed(node.input_tensors))
    in_graph = {id(node) for node in order}
    node_depth, depth = {}, {}
    for node in reversed(order):
        d = max(node_depth.setdefault(id(node), 0), depth.get(id(node.layer), 0))
        depth[id(node.layer)] = node_depth[id(node)] = d
        for parent in node.parent_nodes:
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(d + 1, node_depth.get(id(parent), 0))
    ranked = [(-depth[key], index, layer) for key, (index, layer) in first_seen.items()]
    unused = [t.node.layer for t in model._inputs if id(t.node.layer) not in depth]
    return [layer for _, _, layer in sorted(ranked, key=lambda r: r[:2])] + unused


def _is_model(layer):
    return hasattr(layer, "compile") and hasattr(layer, "layers")


def save_weights(model, filepath, overwrite=True):
    """Writes ``model``'s weights to ``filepath`` in Keras 3's layout, atomically."""
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    folder = os.path.dirname(os.path.abspath(filepath))
    fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(filepath)}.",
                                   suffix=".chainrule-tmp")
    os.close(fd)
    try:
        with h5py.File(partial, "w") as f:
            write_to(f, model)
        os.replace(partial, filepath)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_to(f, model, groups=None):
    """Writes ``model``'s weights into the open HDF5 file ``f``; ``groups`` (``{path:
    (name, variables)}``) adds more groups in the same form (a ``.keras`` file's optimizer)."""
    for path, (name, variables) in {**layout(model), **(groups or {})}.items():
        group = f.create_group(path)
        group.attrs["name"] = name
        for i, v in enumerate(variables):
            group.create_dataset(str(i), data=np.asarray(v._value))


def load_weights(model, filepath):
    """Sets ``model``'s weights from a Keras 3 ``.weights.h5`` file of the same architecture."""
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise ModelFileNotFoundError(f"{filepath}: no such file")
    try:
        f = h5py.File(filepath, "r")
    except OSError as error:
        raise SavedModelError(f"{filepath} is not an HDF5 weights file ({error})") from None
    with f:
        load_from(model, f, filepath)


def load_from(model, f, filepath, skip=()):
    """Sets ``model``'s weights from the open HDF5 file ``f`` (datasets under the prefixes in
    ``skip``, such as a ``.keras`` file's ``optimizer/``, are left alone)."""
    expected = layout(model)
    stored = {p for p in _datasets(f, filepath) if not p.startswith(tuple(skip))}
    wanted = {f"{path}/{i}" for path, (_, vs) in expected.items() for i in range(len(vs))}
    if stored != wanted:
        extra, missing = sorted(stored - wanted), sorted(wanted - stored)
        raise SavedModelError(
            f"{filepath} does not fit model '{model.name}': the file has "
            f"{len(stored)} weight arrays, the model {len(wanted)}"
            f"{f'; not in the model: {extra[:5]}' if extra else ''}"
            f"{f'; not in the file: {missing[:5]}' if missing else ''}")
    arrays = []
    for path, (name, variables) in expected.items():
        for i, v in enumerate(variables):
            ds = f[f"{path}/{i}"]
            if tuple(ds.shape) != tuple(v.shape) or ds.dtype.kind not in "fiu":
                raise SavedModelError(
                    f"{filepath}: {path}/{i} ({ds.dtype} {tuple(ds.shape)}) does not fit "
                    f"weight '{v.name}' of layer '{name}' ({v.dtype} {tuple(v.shape)})")
            try:
                arrays.append((v, np.asarray(ds[()], dtype=v.dtype)))
            except (OSError, ValueError, TypeError) as error:
                raise SavedModelError(f"{filepath}: {path}/{i} cannot be read "
                                      f"({error})") from None
    for v, array in arrays:  # only once every array was read: all or nothing
        v.assign(array)


def _datasets(f, filepath):
    """The paths of the file's datasets; links to other files and external storage refused."""
    h5py = _h5py()
    found, links = set(), []

    def visit(path, link):  # (an exception raised in here would come out garbled)
        if isinstance(link, h5py.HardLink):
            found.add(path)
        else:
            links.append(f"{path} is a link ({type(link).__name__})")

    f.visititems_links(visit)
    datasets = {path for path in found if isinstance(f[path], h5py.Dataset)}
    links += [f"{path} keeps its data outside the file" for path in sorted(datasets)
              if f[path].external or f[path].is_virtual]
    if links:
        raise SavedModelError(f"{filepath}: {links[0]}; a weights file holds its arrays itself")
    return datasets
