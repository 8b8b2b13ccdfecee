"""Finds and loads libringside.so: RINGSIDE_LIBRARY, the build tree, then installed paths."""

import ctypes
import ctypes.util
import os
import sys
import threading
from pathlib import Path

ENV_VAR = "RINGSIDE_LIBRARY"
SONAME = "libringside.so.0"
# src/python/ringside/_lib.py -> the repository root, when run from a checkout.
REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALL_DIRS = ("/usr/local/lib", "/usr/local/lib64", "/usr/local/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/opt/ringside/lib")

_lock = threading.Lock()
_loaded = None  # (CDLL, path) once loaded


class LibraryNotFoundError(ImportError):
    """libringside.so was not found or could not be loaded; .searched lists every place tried."""

    def __init__(self, searched):
        self.searched = list(searched)
        lines = "\n".join(f"  {place}: {why}" for place, why in self.searched)
        super().__init__(
            "ringside: cannot load libringside.so. Searched, in order:\n" + lines +
            f"\nBuild it (cmake --preset release && cmake --build --preset release -j2), "
            f"install it, or set {ENV_VAR} to its path.")


def _sanitizer_of(build_dir):
    """The build's RINGSIDE_SANITIZER from its CMakeCache.txt ('none' if unknown)."""
    try:
        for line in (build_dir / "CMakeCache.txt").read_text(errors="replace").splitlines():
            if line.startswith("RINGSIDE_SANITIZER:"):
                return line.partition("=")[2].strip() or "none"
    except OSError:
        pass
    return "none"


def build_tree_candidates(root=REPO_ROOT):
    """build/release/src first, then the other non-sanitizer builds by name.

    ASan/TSan builds are left out: loading one into an interpreter without its
    runtime preloaded aborts the process. Point RINGSIDE_LIBRARY at them instead.
    """
    build = root / "build"
    dirs = sorted(p for p in build.glob("*") if p.is_dir()) if build.is_dir() else []
    dirs.sort(key=lambda p: p.name != "release")
    return [(d / "src" / "libringside.so", _sanitizer_of(d)) for d in dirs]


def candidates():
    """Yields (place, how) pairs in search order; `how` is a path or a name for dlopen."""
    env = os.environ.get(ENV_VAR)
    if env:
        yield f"${ENV_VAR}={env}", env
        return  # an explicit choice is never silently replaced
    for path, sanitizer in build_tree_candidates():
        if sanitizer != "none":
            yield str(path), None if not path.exists() else (
                f"skipped: built with RINGSIDE_SANITIZER={sanitizer} (set {ENV_VAR} and preload its runtime)")
            continue
        yield str(path), str(path)
    found = ctypes.util.find_library("ringside")
    yield "ctypes.util.find_library('ringside')", found
    for directory in dict.fromkeys((*INSTALL_DIRS, os.path.join(sys.prefix, "lib"))):
        yield os.path.join(directory, "libringside.so"), os.path.join(directory, "libringside.so")
    yield f"dlopen('{SONAME}') (LD_LIBRARY_PATH, ld.so.cache)", SONAME


def _try_load(how):
    if how is None:
        return None, "not found"
    if how.startswith("skipped:"):
        return None, how
    if os.sep in how and not os.path.exists(how):
        return None, "not found"
    if os.sep in how and _needs_asan_preload(how):
        return None, ("built with AddressSanitizer, whose runtime is not loaded (dlopen would abort the "
                      "process): run with LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0")
    try:
        return ctypes.CDLL(how, mode=os.RTLD_NOW | os.RTLD_LOCAL), None
    except OSError as error:
        return None, f"dlopen failed: {error}"


def _needs_asan_preload(path):
    """True if the library links libasan and the ASan runtime is not in this process yet."""
    try:
        with open(path, "rb") as library:
            if b"libasan.so" not in library.read():
                return False
        with open("/proc/self/maps") as maps:
            return "libasan.so" not in maps.read()
    except OSError:
        return False


def load(path=None):
    """Loads the library once (later calls return the same) and returns (CDLL, path).

    `path` overrides the search; it is an error to ask for another path after
    the library is loaded.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            if path is not None and os.path.realpath(path) != os.path.realpath(_loaded[1]):
                raise RuntimeError(f"ringside: {_loaded[1]} is already loaded; cannot switch to {path}")
            return _loaded
        searched = []
        for place, how in ([(path, path)] if path is not None else candidates()):
            lib, why = _try_load(how)
            if lib is not None:
                from . import _api  # declares every prototype; fails on a library that lacks one
                _api.declare(lib)
                _loaded = (lib, _resolved_path(how))
                return _loaded
            searched.append((place, why))
        raise LibraryNotFoundError(searched)


def _resolved_path(how):
    """The file dlopen loaded for `how` (a path or a bare name), read back from /proc/self/maps."""
    if os.sep in how:
        return os.path.abspath(how)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(path).startswith("libringside.so"):
                    return path
    except OSError:
        pass
    return how


def lib():
    """The loaded CDLL (loading it on first use)."""
    loaded = _loaded
    return loaded[0] if loaded is not None else load()[0]


def library_path():
    """Where the loaded library came from."""
    return load()[1]
