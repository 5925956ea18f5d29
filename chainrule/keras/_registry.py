"""Name lookup shared by every ``get(identifier)``: one error message for unknown names."""

import difflib


def lookup(kind, name, table):
    """``table[name]`` (case-insensitive); an unknown name raises a ValueError that lists
    the valid names and suggests the closest one."""
    key = name.lower()
    if key in table:
        return table[key]
    if name in table:
        return table[name]
    valid = sorted(table)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Valid {kind} names: "
                     f"{', '.join(repr(v) for v in valid)}.")


class Configurable:
    """What initializers and regularizers share: ``get_config`` (their arguments),
    ``from_config`` and a ``repr`` that shows them."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
