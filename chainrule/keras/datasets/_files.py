"""Finding dataset files on disk, or downloading and verifying them.

The loaders ask `locate()` for a fixed set of file names. Sources are tried
in this order, and the first one that has every file wins:

1. the `path` given to `load_data` (a file, or a folder holding the files);
2. the folder named by the environment variable ``CHAINRULE_DATASETS``;
3. chainrule's cache, ``$CHAINRULE_HOME/datasets`` or else
   ``~/.chainrule/datasets`` (a folder under the temp dir if that one cannot
   be written);
4. Keras's cache, ``$KERAS_HOME/datasets`` or else ``~/.keras/datasets``;
5. a download into chainrule's cache, checked against the published SHA-256
   (from ``$CHAINRULE_DATASETS_URL`` if set, else Keras's download folder).

Files found locally are trusted only after their *content* is checked by the
loader (local copies are often re-saved or recompressed, so their bytes need
not match the published hashes). Downloads are checked by hash before they are
moved into place, so the cache never holds a half-written or wrong file.

This module also keeps the in-process memo that makes repeated `load_data`
calls cheap.
"""

import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

DATASETS_ENV = "CHAINRULE_DATASETS"
HOME_ENV = "CHAINRULE_HOME"
KERAS_HOME_ENV = "KERAS_HOME"
BASE_URL_ENV = "CHAINRULE_DATASETS_URL"

# Where Keras downloads both MNIST and Fashion-MNIST from. Tests (or a local
# mirror) override it with $CHAINRULE_DATASETS_URL or by patching this name.
DEFAULT_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# Seconds a stalled connection may stay silent before the download gives up.
DOWNLOAD_TIMEOUT = 60


class DatasetNotFoundError(OSError):
    """No usable copy of a dataset was found and it could not be downloaded."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but its content is wrong (truncated, bad format,
    unexpected shapes), or a download did not match its published hash."""


# ---------------------------------------------------------------------------
# Where to look


def base_url():
    """The download folder URL, always ending in '/'."""
    url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def _preferred_cache_dir():
    home = os.environ.get(HOME_ENV)
    root = Path(home).expanduser() if home else Path.home() / ".chainrule"
    return root / "datasets"


def _fallback_cache_dir():
    # Per-user name, so two accounts sharing /tmp do not trip over each other.
    name = f"chainrule-{os.getuid()}" if hasattr(os, "getuid") else "chainrule"
    return Path(tempfile.gettempdir()) / name / "datasets"


def _can_create(folder):
    """Whether `folder` exists and is writable, or could be created: checked on
    its nearest existing ancestor, so that merely looking creates nothing."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def cache_dir():
    """chainrule's dataset cache: where downloads are written."""
    preferred = _preferred_cache_dir()
    return preferred if _can_create(preferred) else _fallback_cache_dir()


def _keras_cache_dir():
    home = os.environ.get(KERAS_HOME_ENV)
    root = Path(home).expanduser() if home else Path.home() / ".keras"
    return root / "datasets"


def search_folders():
    """(description, folder) for sources 2-4 above, in priority order."""
    folders = []
    env = os.environ.get(DATASETS_ENV)
    if env:
        folders.append((f"${DATASETS_ENV}", Path(env).expanduser()))
    folders.append(("chainrule cache", _preferred_cache_dir()))
    if cache_dir() != _preferred_cache_dir():
        folders.append(("chainrule cache (temp fallback)", cache_dir()))
    folders.append(("Keras cache", _keras_cache_dir()))
    return folders


def _find_one(folder, name):
    """`folder/name`, or its uncompressed twin for a `.gz` name, if present."""
    candidates = [name, name[: -len(".gz")]] if name.endswith(".gz") else [name]
    for candidate in candidates:
        path = folder / candidate
        if path.is_file():
            return path
    return None


def _find_all(folder, names):
    found = [_find_one(folder, name) for name in names]
    return None if None in found else found


# ---------------------------------------------------------------------------
# Locating (and if need be downloading) a dataset's files


def locate(title, names, sha256, subdir=None, path=None):
    """Local paths for `names` (in that order), from the first source that has
    them all; downloads into the cache when none does.

    `subdir` is the dataset's folder inside the shared folders (Fashion-MNIST
    lives in `fashion-mnist/`); `sha256` maps each name to its published hash.
    Raises DatasetNotFoundError when there is no copy and no download.
    """
    if path is not None:
        return _from_explicit_path(title, names, subdir, Path(path).expanduser())
    for _, folder in search_folders():
        found = _find_all(folder / subdir if subdir else folder, names)
        if found:
            return found
    return _download_missing(title, names, sha256, subdir)


def _from_explicit_path(title, names, subdir, path):
    # An explicit path is the caller's decision: if it is wrong we say so
    # instead of quietly falling back to some other copy.
    if path.is_file():
        if len(names) == 1:
            return [path]
        raise DatasetNotFoundError(
            f"{title}: {path} is a file, but load_data(path=...) needs a folder "
            f"holding {', '.join(names)}"
        )
    if not path.is_dir():
        raise DatasetNotFoundError(
            f"{title}: {path} (given as load_data(path=...)) does not exist"
        )
    folders = [path, path / subdir] if subdir else [path]
    for folder in folders:
        found = _find_all(folder, names)
        if found:
            return found
    missing = [name for name in names if _find_one(path, name) is None]
    also = f" (or in its subfolder {subdir}/)" if subdir else ""
    raise DatasetNotFoundError(
        f"{title}: the folder {path} given as load_data(path=...) lacks "
        f"{', '.join(missing)}{also}"
    )


def _download_missing(title, names, sha256, subdir):
    target = cache_dir() / subdir if subdir else cache_dir()
    paths = []
    for name in names:
        # Keep files that an earlier, interrupted run already verified.
        local = _find_one(target, name)
        if local is None:
            local = target / name
            url = base_url() + name
            try:
                download(url, local, sha256[name])
            except OSError as exc:  # offline, HTTP error, unwritable cache
                raise DatasetNotFoundError(
                    not_found_message(title, names, subdir, f"{url}: {exc}")
                ) from exc
        paths.append(local)
    return paths


def not_found_message(title, names, subdir, reason):
    """Tell the user exactly which files to put where."""

    def inside(folder):
        return folder / subdir if subdir else folder

    prefix = f"{subdir}/" if subdir else ""
    env = os.environ.get(DATASETS_ENV)
    lines = [
        f"{title} was not found locally and could not be downloaded.",
        f"  download error: {reason}",
        "Looked in:",
    ]
    if not env:
        lines.append(f"  - ${DATASETS_ENV}: not set")
    lines += [f"  - {inside(folder)}  ({desc})" for desc, folder in search_folders()]
    lines += [
        f"To use a copy you already have, put {', '.join(names)}",
        f"  - in the folder {inside(cache_dir())}  (chainrule's cache), or",
        f"  - in {f'the subfolder {prefix} of ' if prefix else ''}a folder named by "
        f"the environment variable {DATASETS_ENV} (e.g. {DATASETS_ENV}=/data/datasets "
        f"with /data/datasets/{prefix}{names[0]}), or",
        "  - anywhere, and pass that file or folder as load_data(path=...).",
        "Download URL" + ("s:" if len(names) > 1 else ":"),
    ]
    lines += [f"  {base_url()}{name}" for name in names]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Downloading


def download(url, dest, sha256):
    """Fetch `url` to `dest`, atomically, after checking its SHA-256.

    The bytes go to a temporary file beside `dest` (same file system, so the
    final `os.replace` is atomic); on a hash mismatch or any failure that
    temporary file is removed and `dest` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"Downloading {url} -> {dest}", file=sys.stderr)
    fd, tmp_name = tempfile.mkstemp(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        # Keras publishes SHA-256 for most files and MD5 for a few (the word indices):
        # the length of the published hash says which.
        kind, label = ("md5", "MD5") if len(sha256) == 32 else ("sha256", "SHA-256")
        digest = hashlib.new(kind)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
            url, timeout=DOWNLOAD_TIMEOUT
        ) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DatasetCorruptError(
                f"download of {url} is corrupt: its {label} is "
                f"{digest.hexdigest()}, the published one is {sha256}; "
                f"nothing was saved to {dest}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# In-process memo

_MEMO = {}
_MEMO_SIZE = 4  # a couple of datasets; bounded so tests cannot pile up copies


def _identity(path):
    stat = os.stat(path)
    return (os.path.realpath(path), stat.st_mtime_ns, stat.st_size)


def memoized(key, paths, load):
    """Return copies of the arrays `load()` returns, parsing each file set only
    once per process (until a file's mtime or size changes).

    Copies, because Keras hands out fresh writable arrays and a caller who
    normalises `x_train` in place must not change what the next call sees.
    """
    full_key = (key, tuple(_identity(path) for path in paths))
    arrays = _MEMO.get(full_key)
    if arrays is None:
        arrays = tuple(load())
        for array in arrays:
            array.flags.writeable = False  # guards the master copies
        _MEMO[full_key] = arrays
        while len(_MEMO) > _MEMO_SIZE:
            del _MEMO[next(iter(_MEMO))]
    return tuple(array.copy() for array in arrays)


def clear_memo():
    """Forget parsed arrays (for tests, or to free memory)."""
    _MEMO.clear()
