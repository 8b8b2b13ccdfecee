"""The binding (ringside/_api.py) against the headers, the exported symbols and the C compiler's layout."""

import ctypes
import re
import shutil
import subprocess

import pytest

import ringside
from ringside import _api

from conftest import ROOT, clean_env

HEADERS = [ROOT / "src" / "include" / "ringside" / name for name in ("ringside.h", "sidecar.h")]


def header_text():
    # Comments out, so prose that looks like code never counts.
    text = "\n".join(path.read_text() for path in HEADERS)
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_functions():
    """{name: parameter count} of every RS_API function in the headers."""
    functions = {}
    for match in re.finditer(r"RS_API\s+[^;(]*?\b(rs_\w+)\s*\(([^)]*)\)\s*;", header_text()):
        params = " ".join(match.group(2).split())
        functions[match.group(1)] = 0 if params in ("", "void") else params.count(",") + 1
    return functions


def exported_symbols():
    path = ringside.library_path()
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", path], capture_output=True, text=True, check=True,
                         env=clean_env()).stdout
    return {fields[2] for fields in (line.split() for line in out.splitlines())
            if len(fields) >= 3 and fields[1] != "A" and fields[2].startswith("rs_")}


def test_every_exported_symbol_has_a_declaration_in_the_binding_and_vice_versa():
    exported = exported_symbols()
    declared = set(_api.PROTOTYPES)
    assert exported - declared == set(), "exported by the library but not declared in _api.PROTOTYPES"
    assert declared - exported == set(), "declared in _api.PROTOTYPES but not exported by the library"


def test_every_header_function_is_declared_with_its_parameter_count():
    functions = header_functions()
    assert len(functions) >= 50, "the header parser found too few functions: fix the regular expression"
    assert set(functions) == set(_api.PROTOTYPES)
    for name, count in functions.items():
        assert len(_api.PROTOTYPES[name][1]) == count, f"{name}: header has {count} parameters"


def test_every_declared_function_has_argtypes_and_restype_set_on_the_loaded_library(lib):
    for name, (restype, argtypes) in _api.PROTOTYPES.items():
        function = getattr(lib, name)
        assert function.argtypes == argtypes, name
        assert function.restype is restype, name


def test_every_public_struct_of_the_headers_is_mirrored():
    in_headers = set(re.findall(r"typedef\s+struct\s+(rs_\w+)\s*\{", header_text()))
    assert in_headers == {struct.__name__ for struct in _api.STRUCTS}


def test_every_enum_member_and_define_of_the_headers_is_mirrored():
    text = header_text()
    in_headers = set()
    for body in re.findall(r"typedef\s+enum\s+\w+\s*\{(.*?)\}", text, flags=re.S):
        in_headers |= set(re.findall(r"\b(RS_[A-Z0-9_]+)\s*=", body))
    mirrored = {prefix + member.name for enum, prefix in _api.ENUM_PREFIXES.items() for member in enum}
    assert in_headers == mirrored
    defines = set(re.findall(r"#define\s+(RS_[A-Z0-9_]+)\s+\S", text)) - {"RS_API"}
    assert defines == set(_api.DEFINES)


def layout_program():
    """C source printing sizeof, alignment and every field offset of each mirrored struct, and every constant."""
    lines = ["#include <stdalign.h>", "#include <stddef.h>", "#include <stdio.h>",
             '#include "ringside/ringside.h"', "int main(void) {"]
    for struct in _api.STRUCTS:
        name = struct.__name__
        lines.append(f'  printf("{name} size %zu\\n", sizeof({name}));')
        lines.append(f'  printf("{name} align %zu\\n", alignof({name}));')
        for field, _type in struct._fields_:
            lines.append(f'  printf("{name}.{field} offset %zu\\n", offsetof({name}, {field}));')
            lines.append(f'  printf("{name}.{field} size %zu\\n", sizeof((({name} *)0)->{field}));')
    for enum, prefix in _api.ENUM_PREFIXES.items():
        for member in enum:
            lines.append(f'  printf("{prefix}{member.name} value %lld\\n", (long long){prefix}{member.name});')
    for define in _api.DEFINES:
        lines.append(f'  printf("{define} value %llu\\n", (unsigned long long)({define}));')
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler (cc) to measure the structs with")
    work = tmp_path_factory.mktemp("layout")
    (work / "layout.c").write_text(layout_program())
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", "-I", str(ROOT / "src" / "include"), "layout.c",
                    "-o", "layout"], cwd=work, check=True, env=clean_env())
    out = subprocess.run([str(work / "layout")], capture_output=True, text=True, check=True, env=clean_env()).stdout
    return {f"{key} {what}": int(value) for key, what, value in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("struct", _api.STRUCTS, ids=lambda s: s.__name__)
def test_each_struct_has_the_size_alignment_and_field_offsets_the_c_compiler_gives(c_layout, struct):
    name = struct.__name__
    assert ctypes.sizeof(struct) == c_layout[f"{name} size"]
    assert ctypes.alignment(struct) == c_layout[f"{name} align"]
    for field, field_type in struct._fields_:
        assert getattr(struct, field).offset == c_layout[f"{name}.{field} offset"], field
        assert ctypes.sizeof(field_type) == c_layout[f"{name}.{field} size"], field


def test_every_constant_has_the_value_the_c_compiler_gives(c_layout):
    for enum, prefix in _api.ENUM_PREFIXES.items():
        for member in enum:
            assert int(member) == c_layout[f"{prefix}{member.name} value"], member
    for define in _api.DEFINES:
        assert getattr(_api, define) == c_layout[f"{define} value"], define
