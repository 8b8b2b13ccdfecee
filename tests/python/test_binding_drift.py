"""The binding (ringside/_api.py) against the headers, the exported symbols and the C compiler's layout.

The binding mirrors ringside.h and sidecar.h (its core) and, as optional
groups, later headers (tracer.h). Every public header on disk must be
mirrored exactly; the library must export exactly what the active groups
declare.
"""

import ctypes
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

import ringside
from ringside import _api

from ringside_testing import ROOT, clean_env

pytestmark = pytest.mark.library

INCLUDE = ROOT / "src" / "include"


@dataclass
class Mirror:
    """What a header declares, or what the binding mirrors of it."""
    functions: dict = field(default_factory=dict)  # name -> parameter count
    structs: set = field(default_factory=set)
    enum_members: set = field(default_factory=set)
    defines: set = field(default_factory=set)

    def __or__(self, other):
        return Mirror({**self.functions, **other.functions}, self.structs | other.structs,
                      self.enum_members | other.enum_members, self.defines | other.defines)


def parse_header(path):
    # Comments out, so prose that looks like code never counts.
    text = re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    mirror = Mirror()
    for match in re.finditer(r"RS_API\s+[^;(]*?\b(rs_\w+)\s*\(([^)]*)\)\s*;", text):
        params = " ".join(match.group(2).split())
        mirror.functions[match.group(1)] = 0 if params in ("", "void") else params.count(",") + 1
    mirror.structs = set(re.findall(r"typedef\s+struct\s+(rs_\w+)\s*\{", text))
    # An enum may carry a macro before its brace (RS_ENUM_INT: ": int" in C++).
    for body in re.findall(r"typedef\s+enum\s+\w+(?:\s+[A-Z_]+)?\s*\{(.*?)\}", text, flags=re.S):
        mirror.enum_members |= set(re.findall(r"\b(RS_[A-Z0-9_]+)\s*=", body))
    # Constants only: a number, a parenthesis or a *_MAX limit (not RS_API, RS_ENUM_INT).
    mirror.defines = set(re.findall(r"#define\s+(RS_[A-Z0-9_]+)[ \t]+(?:[-(0-9]|U?INT\d+_MAX)", text))
    return mirror


def public_headers():
    """{file name: Mirror} of every header under src/include/ringside that declares RS_API functions."""
    return {path.name: parse_header(path) for path in sorted((INCLUDE / "ringside").glob("*.h"))
            if "RS_API" in path.read_text() and parse_header(path).functions}


def binding_mirror(prototypes, structs, enums, defines):
    return Mirror({name: len(argtypes) for name, (_restype, argtypes) in prototypes.items()},
                  {s.__name__ for s in structs}, {prefix + m.name for e, prefix in enums.items() for m in e},
                  set(defines))


def core_binding():
    return binding_mirror(_api.PROTOTYPES, _api.STRUCTS, _api.ENUM_PREFIXES, _api.DEFINES)


def group_binding(header):
    group = _api.OPTIONAL_GROUPS[header]
    return binding_mirror(group["prototypes"], group["structs"], group["enums"], group["defines"])


def exported_symbols():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", ringside.library_path()], capture_output=True, text=True,
                         check=True, env=clean_env()).stdout
    return {fields[2] for fields in (line.split() for line in out.splitlines())
            if len(fields) >= 3 and fields[1] != "A" and fields[2].startswith("rs_")}


def assert_mirrors(header_side, binding_side, what):
    assert set(header_side.functions) == set(binding_side.functions), f"{what}: functions"
    for name, count in header_side.functions.items():
        assert binding_side.functions[name] == count, f"{what}: {name} takes {count} parameters in the header"
    assert header_side.structs == binding_side.structs, f"{what}: structs"
    assert header_side.enum_members == binding_side.enum_members, f"{what}: enum members"
    assert header_side.defines == binding_side.defines, f"{what}: #defines"


def test_the_core_headers_are_mirrored_function_struct_enum_member_and_define_each():
    headers = public_headers()
    core = Mirror()
    for name in _api.CORE_HEADERS:
        core = core | headers[name]
    assert len(core.functions) >= 50, "the header parser found too few functions: fix the regular expression"
    assert_mirrors(core, core_binding(), "ringside.h + sidecar.h")


def test_every_other_public_header_on_disk_is_mirrored_by_an_optional_group():
    for name, mirror in public_headers().items():
        if name in _api.CORE_HEADERS:
            continue
        assert name in _api.OPTIONAL_GROUPS, f"{name} declares a public API the Python binding does not mirror: " \
                                             f"add a group for it to ringside/_api.py"
        assert_mirrors(mirror, group_binding(name), name)


def test_every_exported_symbol_has_a_declaration_in_the_binding_and_vice_versa(lib):
    declared = set(_api.PROTOTYPES)
    for header in _api.active_groups(lib):
        declared |= set(_api.OPTIONAL_GROUPS[header]["prototypes"])
    exported = exported_symbols()
    assert exported - declared == set(), "exported by the library but not declared in the binding"
    assert declared - exported == set(), "declared in the binding but not exported by the library"


def test_an_optional_group_is_active_exactly_when_its_header_exists(lib):
    expected = set(public_headers()) & set(_api.OPTIONAL_GROUPS)
    active = set(_api.active_groups(lib))
    assert active == expected, (
        f"headers on disk: {sorted(expected)}, groups the library exports: {sorted(active)}: "
        f"{ringside.library_path()} was built from other sources than these headers (rebuild it)")


def test_every_declared_function_has_argtypes_and_restype_set_on_the_loaded_library(lib):
    prototypes = dict(_api.PROTOTYPES)
    for header in _api.active_groups(lib):
        prototypes.update(_api.OPTIONAL_GROUPS[header]["prototypes"])
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(lib, name)
        assert function.argtypes == argtypes, name
        assert function.restype is restype, name


def mirrored_on_disk():
    """(structs, {enum: prefix}, defines) of the core and of every optional group whose header exists."""
    structs, enums, defines = list(_api.STRUCTS), dict(_api.ENUM_PREFIXES), list(_api.DEFINES)
    for header in set(public_headers()) & set(_api.OPTIONAL_GROUPS):
        group = _api.OPTIONAL_GROUPS[header]
        structs += group["structs"]
        enums.update(group["enums"])
        defines += group["defines"]
    return structs, enums, defines


def layout_program():
    """C source printing sizeof, alignment and every field offset/size of each mirrored struct, and every constant."""
    structs, enums, defines = mirrored_on_disk()
    lines = ["#include <stdalign.h>", "#include <stddef.h>", "#include <stdio.h>"]
    lines += [f'#include "ringside/{name}"' for name in public_headers()]
    lines.append("int main(void) {")
    for struct in structs:
        name = struct.__name__
        lines.append(f'  printf("{name} size %zu\\n", sizeof({name}));')
        lines.append(f'  printf("{name} align %zu\\n", alignof({name}));')
        for field_name, _type in struct._fields_:
            lines.append(f'  printf("{name}.{field_name} offset %zu\\n", offsetof({name}, {field_name}));')
            lines.append(f'  printf("{name}.{field_name} size %zu\\n", sizeof((({name} *)0)->{field_name}));')
    for enum, prefix in enums.items():
        for member in enum:
            lines.append(f'  printf("{prefix}{member.name} value %lld\\n", (long long){prefix}{member.name});')
    for define in defines:
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
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", "-I", str(INCLUDE), "layout.c", "-o", "layout"],
                   cwd=work, check=True, env=clean_env())
    out = subprocess.run([str(work / "layout")], capture_output=True, text=True, check=True, env=clean_env()).stdout
    return {f"{key} {what}": int(value) for key, what, value in (line.split() for line in out.splitlines())}


ALL_STRUCTS = list(_api.STRUCTS) + [s for group in _api.OPTIONAL_GROUPS.values() for s in group["structs"]]


@pytest.mark.parametrize("struct", ALL_STRUCTS, ids=lambda s: s.__name__)
def test_each_struct_has_the_size_alignment_and_field_offsets_the_c_compiler_gives(c_layout, struct):
    name = struct.__name__
    if f"{name} size" not in c_layout:
        pytest.skip(f"{name}'s header is not in this tree")
    assert ctypes.sizeof(struct) == c_layout[f"{name} size"]
    assert ctypes.alignment(struct) == c_layout[f"{name} align"]
    for field_name, field_type in struct._fields_:
        assert getattr(struct, field_name).offset == c_layout[f"{name}.{field_name} offset"], field_name
        assert ctypes.sizeof(field_type) == c_layout[f"{name}.{field_name} size"], field_name


def test_every_constant_has_the_value_the_c_compiler_gives(c_layout):
    _structs, enums, defines = mirrored_on_disk()
    for enum, prefix in enums.items():
        for member in enum:
            assert int(member) == c_layout[f"{prefix}{member.name} value"], member
    for define in defines:
        value = getattr(_api, define)
        assert value == c_layout[f"{define} value"], define
