"""Checker logs (captured from the canaries) parsed into findings: tool, kind, top frames."""

import pytest

from runall_testing import FIXTURES  # first: puts harness/ on sys.path

from runall import findings


CASES = [
    ("asan_heap_buffer_overflow.log", "asan", "heap-buffer-overflow", "main", "heap_overflow.cpp", 15),
    ("asan_heap_use_after_free.log", "asan", "heap-use-after-free", "main", "use_after_free.cpp", 12),
    ("lsan_leak.log", "lsan", "leak", "__interceptor_malloc", "asan_malloc_linux.cpp", 69),
    ("ubsan_signed_overflow.log", "ubsan", "signed-integer-overflow", "main", "signed_overflow.cpp", 11),
    ("ubsan_misaligned.log", "ubsan", "misaligned-access", "main", "misaligned.cpp", 12),
    ("tsan_data_race.log", "tsan", "data-race", "(anonymous namespace)::bump()", "race.cpp", None),
    ("memcheck_uninit.log", "memcheck", "uninitialised-condition", "main", "uninit.cpp", 15),
    ("memcheck_leak.log", "memcheck", "leak-definite", "malloc", "vgpreload_memcheck-amd64-linux.so", None),
]


@pytest.mark.parametrize("name,tool,kind,function,file,line", CASES)
def test_each_canary_log_gives_its_finding(name, tool, kind, function, file, line):
    text = (FIXTURES / name).read_text()
    found = findings.parse("memcheck" if tool == "memcheck" else tool, text, scenario="s", log=name)
    assert [(f["tool"], f["kind"]) for f in found] == [(tool, kind)]
    top = found[0]["frames"][0]
    assert top["function"] == function and top["file"].endswith(file) and top["line"] == line
    assert found[0]["scenario"] == "s" and found[0]["log"] == name
    assert 1 <= len(found[0]["frames"]) <= findings.TOP_FRAMES


def test_frames_reach_the_faulty_function():
    leak = findings.parse("lsan", (FIXTURES / "lsan_leak.log").read_text())[0]
    assert [f["function"] for f in leak["frames"][:3]] == ["__interceptor_malloc", "lose_a_block", "main"]
    race = findings.parse("tsan", (FIXTURES / "tsan_data_race.log").read_text())[0]
    assert race["message"].startswith("WARNING: ThreadSanitizer: data race")
    vg = findings.parse("memcheck", (FIXTURES / "memcheck_leak.log").read_text())[0]
    assert vg["frames"][1] == {"function": "(anonymous namespace)::lose_a_block()", "file": "leak.cpp", "line": 7}


def test_a_clean_memcheck_log_has_no_findings_and_zero_errors():
    text = (FIXTURES / "memcheck_clean.log").read_text()
    assert findings.parse("memcheck", text) == []
    assert findings.memcheck_error_count(text) == 0
    assert findings.memcheck_error_count((FIXTURES / "memcheck_uninit.log").read_text()) == 1


def test_program_output_without_reports_has_no_findings():
    assert findings.parse("asan", "hello\n#0 not a frame\nERROR: something else\n") == []


def test_summary_line_names_tool_kind_and_place():
    found = findings.parse("asan", (FIXTURES / "asan_heap_use_after_free.log").read_text())[0]
    assert findings.summary_line(found).startswith("asan heap-use-after-free at main ")
    assert findings.summary_line(found).endswith("use_after_free.cpp:12")
