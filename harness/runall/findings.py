"""Sanitizer and Valgrind memcheck logs parsed into structured findings.

A finding is a dict: tool (asan, lsan, ubsan, tsan, memcheck), kind (e.g.
heap-buffer-overflow, leak, signed-integer-overflow, data-race,
uninitialised-condition, leak-definite), message (the report's first line),
frames (the top frames: function, file, line), scenario and log (set by the
caller). Every finding fails the run.
"""

import re

TOP_FRAMES = 5

ASAN_ERROR = re.compile(r"^==\d+==ERROR: AddressSanitizer: ([\w-]+)(.*)$")
LSAN_ERROR = re.compile(r"^==\d+==ERROR: LeakSanitizer: detected memory leaks")
LSAN_RECORD = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
TSAN_WARNING = re.compile(r"^WARNING: ThreadSanitizer: ([\w -]+?)(?: \(pid=\d+\))?\s*$")
UBSAN_ERROR = re.compile(r"^(\S+?):(\d+):(\d+): runtime error: (.*)$")
SAN_FRAME = re.compile(r"^\s+#(\d+) (?:0x[0-9a-f]+ in )?(.+?) (\S+?)(?::(\d+))?(?::\d+)?(?: \(.*\))?$")
SAN_FRAME_BINARY = re.compile(r"^\s+#(\d+) (?:0x[0-9a-f]+ in )?(.+?) \((\S+)\)")
VG_LINE = re.compile(r"^==(\d+)== ?(.*)$")
VG_FRAME = re.compile(r"^\s*(?:at|by) 0x[0-9A-F]+: (.+?) \((?:in )?([^():]+?)(?::(\d+))?\)$")

UBSAN_KINDS = (
    ("signed integer overflow", "signed-integer-overflow"),
    ("misaligned address", "misaligned-access"),
    ("insufficient space for an object", "object-size"),
    ("shift exponent", "shift-out-of-bounds"),
    ("left shift of", "shift-out-of-bounds"),
    ("division by zero", "division-by-zero"),
    ("null pointer", "null-pointer"),
    ("out of bounds for type", "array-bounds"),
    ("not a valid value for type", "invalid-value"),
    ("member call on address", "vptr"),
    ("downcast of address", "vptr"),
    ("is outside the range of representable values", "float-cast-overflow"),
    ("pointer overflow", "pointer-overflow"),
    ("unreachable", "unreachable"),
)
MEMCHECK_KINDS = (
    (re.compile(r"^Invalid read of size"), "invalid-read"),
    (re.compile(r"^Invalid write of size"), "invalid-write"),
    (re.compile(r"^Invalid free\(\)"), "invalid-free"),
    (re.compile(r"^Mismatched free\(\)"), "mismatched-free"),
    (re.compile(r"^Conditional jump or move depends on uninitialised value"), "uninitialised-condition"),
    (re.compile(r"^Use of uninitialised value of size"), "uninitialised-value"),
    (re.compile(r"^Syscall param .* uninitialised byte"), "uninitialised-syscall-param"),
    (re.compile(r"^Source and destination overlap"), "overlap"),
    (re.compile(r"^Argument '.*' of function .* has a fishy"), "fishy-argument"),
    (re.compile(r"bytes in [\d,]+ blocks are definitely lost"), "leak-definite"),
    (re.compile(r"bytes in [\d,]+ blocks are possibly lost"), "leak-possible"),
    (re.compile(r"bytes in [\d,]+ blocks are indirectly lost"), "leak-indirect"),
)


def _frames(lines, start):
    """Sanitizer stack frames from lines[start:], stopping at the first blank line after some."""
    frames = []
    for line in lines[start:]:
        m = SAN_FRAME.match(line)
        if not m:
            if frames:
                break
            continue
        function, location, number = m.group(2), m.group(3), m.group(4)
        if location.startswith("(") or "+0x" in location:
            mb = SAN_FRAME_BINARY.match(line)
            function, location, number = (mb.group(2), mb.group(3), None) if mb else (function, location, None)
        frames.append({"function": function, "file": location, "line": int(number) if number else None})
        if len(frames) >= TOP_FRAMES:
            break
    return frames


def parse_sanitizer(text):
    """Findings of ASan, LSan, UBSan and TSan in one log (a process's stderr or a log_path file)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if m := ASAN_ERROR.match(line):
            out.append(_finding("asan", m.group(1), line, lines, i + 1))
        elif LSAN_ERROR.match(line):
            for j in range(i + 1, len(lines)):
                if lines[j].startswith("SUMMARY:") or ASAN_ERROR.match(lines[j]):
                    break
                if r := LSAN_RECORD.match(lines[j]):
                    kind = "leak" if r.group(1) == "Direct" else "indirect-leak"
                    out.append(_finding("lsan", kind, lines[j], lines, j + 1))
        elif m := TSAN_WARNING.match(line):
            out.append(_finding("tsan", m.group(1).strip().replace(" ", "-"), line, lines, i + 1))
        elif m := UBSAN_ERROR.match(line):
            message = m.group(4)
            kind = next((k for needle, k in UBSAN_KINDS if needle in message), "undefined-behavior")
            finding = _finding("ubsan", kind, line, lines, i + 1)
            if not finding["frames"]:
                finding["frames"] = [{"function": None, "file": m.group(1), "line": int(m.group(2))}]
            out.append(finding)
    return out


def _finding(tool, kind, message, lines, frames_from):
    return {"tool": tool, "kind": kind, "message": message.strip(), "frames": _frames(lines, frames_from)}


def parse_memcheck(text):
    """Findings of one Valgrind memcheck log (--log-file): errors and leak records."""
    blocks, current = [], []
    for raw in text.splitlines():
        m = VG_LINE.match(raw)
        body = m.group(2) if m else raw
        if not body.strip():
            if current:
                blocks.append(current)
            current = []
        else:
            current.append(body)
    if current:
        blocks.append(current)
    out = []
    for block in blocks:
        kind = next((k for pattern, k in MEMCHECK_KINDS if pattern.search(block[0])), None)
        if kind is None:
            continue
        frames = []
        for line in block[1:]:
            if f := VG_FRAME.match(line):
                frames.append({"function": f.group(1), "file": f.group(2),
                               "line": int(f.group(3)) if f.group(3) else None})
                if len(frames) >= TOP_FRAMES:
                    break
            elif frames:
                break
        out.append({"tool": "memcheck", "kind": kind, "message": block[0].strip(), "frames": frames})
    return out


def memcheck_error_count(text):
    """The number in 'ERROR SUMMARY: N errors', or None without a summary (a killed run)."""
    m = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)
    return int(m[-1].replace(",", "")) if m else None


def parse(tool, text, scenario=None, log=None):
    """Findings of a log written by `tool` ("memcheck" or any sanitizer), labelled."""
    found = parse_memcheck(text) if tool == "memcheck" else parse_sanitizer(text)
    for finding in found:
        finding["scenario"] = scenario
        finding["log"] = str(log) if log else None
    return found


def summary_line(finding):
    top = next((f for f in finding["frames"] if f.get("line")), finding["frames"][0] if finding["frames"] else None)
    where = f" at {top['function'] or '?'} {top['file']}:{top['line']}" if top else ""
    return f"{finding['tool']} {finding['kind']}{where}"
