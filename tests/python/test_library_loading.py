"""Finding libringside.so: RINGSIDE_LIBRARY, the build tree (release first, sanitizer builds skipped), installed paths."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import ringside

from ringside_testing import ROOT

pytestmark = pytest.mark.library


def run_python(code, env_changes, cwd=None, package_root=ROOT / "src" / "python", drop=()):
    """Runs `code` in a fresh interpreter that imports ringside from package_root; returns (rc, stdout+stderr)."""
    env = dict(os.environ)
    for name in ("RINGSIDE_LIBRARY", *drop):
        env.pop(name, None)
    env.update(env_changes)
    env["PYTHONPATH"] = str(package_root)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def fake_checkout(tmp_path, builds):
    """A copy of the package under tmp_path/src/python, with build/<name>/src/libringside.so links to the real one.

    builds: {build name: sanitizer or None}. Returns the package root.
    """
    package_root = tmp_path / "src" / "python"
    shutil.copytree(ROOT / "src" / "python" / "ringside", package_root / "ringside",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, sanitizer in builds.items():
        src = tmp_path / "build" / name / "src"
        src.mkdir(parents=True)
        (src / "libringside.so").symlink_to(ringside.library_path())
        if sanitizer:
            (tmp_path / "build" / name / "CMakeCache.txt").write_text(f"RINGSIDE_SANITIZER:STRING={sanitizer}\n")
    return package_root


def test_ringside_library_names_the_library_to_load():
    rc, out = run_python("import ringside; print(ringside.library_path(), ringside.version())",
                         {"RINGSIDE_LIBRARY": ringside.library_path()})
    assert rc == 0, out
    assert out.split()[0] == ringside.library_path()


def test_a_ringside_library_that_does_not_exist_is_an_error_naming_it_and_nothing_else_is_tried():
    rc, out = run_python("import ringside; ringside.version()", {"RINGSIDE_LIBRARY": "/nonexistent/libringside.so"})
    assert rc != 0 and "LibraryNotFoundError" in out
    assert "$RINGSIDE_LIBRARY=/nonexistent/libringside.so: not found" in out
    assert "find_library" not in out


def test_an_asan_build_without_its_runtime_preloaded_is_refused_instead_of_aborting_the_process(tmp_path):
    fake = tmp_path / "libringside.so"
    fake.write_bytes(b"\x7fELF...NEEDED libasan.so.8...")
    rc, out = run_python("import ringside; ringside.version()", {"RINGSIDE_LIBRARY": str(fake)}, drop=("LD_PRELOAD",))
    assert rc == 1 and "LibraryNotFoundError" in out
    assert "built with AddressSanitizer" in out and "LD_PRELOAD=$(gcc -print-file-name=libasan.so)" in out


def test_the_build_tree_is_searched_release_first(tmp_path):
    package_root = fake_checkout(tmp_path, {"debug": None, "release": None})
    rc, out = run_python("import ringside; print(ringside.library_path())", {}, package_root=package_root)
    assert rc == 0, out
    assert out.strip() == str(tmp_path / "build" / "release" / "src" / "libringside.so")


def test_sanitizer_builds_are_skipped_unless_named_explicitly(tmp_path):
    package_root = fake_checkout(tmp_path, {"asan": "asan", "valgrind": None})
    rc, out = run_python("import ringside; print(ringside.library_path())", {}, package_root=package_root)
    assert rc == 0, out
    assert out.strip() == str(tmp_path / "build" / "valgrind" / "src" / "libringside.so")


def test_when_nothing_is_found_the_error_lists_every_place_searched(tmp_path):
    package_root = fake_checkout(tmp_path, {"asan": "asan"})
    code = """
        import ringside
        try:
            ringside.version()
        except ringside.LibraryNotFoundError as error:
            print(error)
            print("PLACES", len(error.searched))
        """
    rc, out = run_python(code, {"LD_LIBRARY_PATH": ""}, package_root=package_root)
    if "PLACES" not in out:
        pytest.skip("an installed libringside was found on this machine")
    asan = tmp_path / "build" / "asan" / "src" / "libringside.so"
    for expected in (f"{asan}: skipped: built with RINGSIDE_SANITIZER=asan (set RINGSIDE_LIBRARY",
                     "ctypes.util.find_library('ringside'): not found", "/usr/local/lib/libringside.so: not found",
                     "dlopen('libringside.so.0')", "Build it (cmake --preset release"):
        assert expected in out, out


def test_asking_for_another_library_after_one_is_loaded_is_refused():
    ringside.load()  # the same one again is fine
    ringside.load(ringside.library_path())
    with pytest.raises(RuntimeError, match="already loaded"):
        ringside.load("/somewhere/else/libringside.so")
