"""Line numbers for keys of a TOML file (tomllib gives values only), for error messages."""

import re

ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
TABLE_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
KEY_LINE = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _split(path):
    return tuple(part.strip().strip("\"'") for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", path))


class Locator:
    """Maps (context, dotted key) to a 1-based line; context is ("meta",), ("baseline",) or ("group", i)."""

    def __init__(self, text):
        self.keys = {}      # (context, key tuple) -> line
        self.spans = {}     # context -> [first line, last line]
        self.lines = text.splitlines()
        context, prefix, counts = (), (), {}
        for number, line in enumerate(self.lines, 1):
            code = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
            if m := ARRAY_HEADER.match(code):
                name = _split(m.group(1))
                counts[name] = counts.get(name, -1) + 1
                context, prefix = (*name, counts[name]), ()
                self._open(context, number)
            elif m := TABLE_HEADER.match(code):
                path = _split(m.group(1))
                parent = context[:-1] if context and isinstance(context[-1], int) else ()
                if parent and path[:len(parent)] == parent:
                    prefix = path[len(parent):]
                else:
                    context, prefix = path[:1], path[1:]
                    self._open(context, number)
                self.keys.setdefault((context, prefix), number)
            elif m := KEY_LINE.match(code):
                self.keys.setdefault((context, prefix + _split(m.group(1))), number)
            if context in self.spans:
                self.spans[context][1] = number

    def _open(self, context, number):
        self.spans.setdefault(context, [number, number])

    def line(self, context, key=""):
        """The line of key in context (or of its nearest enclosing key), else of the context's header."""
        parts = _split(key) if key else ()
        for n in range(len(parts), 0, -1):
            if (found := self.keys.get((context, parts[:n]))) is not None:
                if n < len(parts):  # inside an inline table or array: look for the leaf's text
                    return self._search(parts[-1], found, context) or found
                return found
        if parts and context in self.spans:
            if (found := self._search(parts[-1], self.spans[context][0], context)) is not None:
                return found
        return self.spans.get(context, [None])[0]

    def _search(self, word, start, context):
        end = self.spans.get(context, [0, len(self.lines)])[1]
        pattern = re.compile(rf"(^|[\s{{,.\"']){re.escape(word)}[\"']?\s*=")
        for number in range(start, end + 1):
            if pattern.search(self.lines[number - 1]):
                return number
        return None
