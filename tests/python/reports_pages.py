"""Checks that a report page is valid, self-contained HTML: for tests/python/test_reports_*.py."""

import base64
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRIBUTES = {"src", "href", "action", "poster", "srcset", "data", "formaction", "background"}
MAX_BYTES = 10 * 1024 * 1024


class PageChecker(HTMLParser):
    """Collects structural errors, ids, links and images of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.errors, self.stack, self.ids, self.links, self.images = [], [], [], [], []
        self.tags, self.doctype, self.in_style, self.styles, self.in_script, self.scripts = [], False, False, [], False, []

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = dict(attrs)
        if len(attributes) != len(attrs):
            self.errors.append(f"<{tag}> repeats an attribute")
        if "id" in attributes:
            self.ids.append(attributes["id"])
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                (self.images if tag == "img" and name == "src" else self.links).append((tag, name, value))
            if name.startswith("on"):
                self.errors.append(f"<{tag} {name}>: inline event handler")
        if tag == "link":
            self.errors.append(f"<link {attributes}>: a page must not load other resources")
        if tag == "script" and "src" in attributes:
            self.errors.append("<script src>: scripts must be inline")
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))
        self.in_style, self.in_script = tag == "style", tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"</{tag}> closes a void element")
            return
        if not self.stack or self.stack[-1][0] != tag:
            opened = self.stack[-1] if self.stack else ("nothing", None)
            self.errors.append(f"</{tag}> at {self.getpos()} but <{opened[0]}> from {opened[1]} is open")
            return
        self.stack.pop()
        self.in_style = self.in_script = False

    def handle_data(self, data):
        if self.in_style:
            self.styles.append(data)
        if self.in_script:
            self.scripts.append(data)


def external(url):
    """True for anything that would leave the folder: a scheme other than data:, or a //host path."""
    url = url.strip()
    if url.startswith(("data:", "#")):
        return False
    return url.startswith("//") or bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url))


def check_image(src):
    """None when the data URI holds a decodable PNG or SVG, else what is wrong."""
    match = re.match(r"^data:(image/png|image/svg\+xml);base64,(.*)$", src, re.S)
    if not match:
        return f"image is not a base64 PNG/SVG data URI: {src[:60]}"
    try:
        payload = base64.b64decode(match.group(2), validate=True)
    except ValueError as error:
        return f"bad base64: {error}"
    if match.group(1) == "image/png":
        return None if payload.startswith(b"\x89PNG\r\n\x1a\n") and len(payload) > 100 else "not a PNG"
    try:
        root = ET.fromstring(payload)
    except ET.ParseError as error:
        return f"SVG does not parse: {error}"
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href") and external(value):
                return f"SVG refers outside: {value}"
    return None


def check_page(path):
    """Every problem of one page, as strings (empty: valid and self-contained)."""
    path = Path(path)
    raw = path.read_bytes()
    problems = []
    if len(raw) > MAX_BYTES:
        problems.append(f"{path.name}: {len(raw)} bytes, over 10 MB")
    checker = PageChecker()
    checker.feed(raw.decode("utf-8"))
    checker.close()
    problems += [f"{path.name}: {e}" for e in checker.errors]
    if not checker.doctype:
        problems.append(f"{path.name}: no <!DOCTYPE html>")
    for tag in ("html", "head", "body", "title"):
        if checker.tags.count(tag) != 1:
            problems.append(f"{path.name}: {checker.tags.count(tag)} <{tag}> elements")
    if checker.stack:
        problems.append(f"{path.name}: unclosed {checker.stack}")
    duplicates = {i for i in checker.ids if checker.ids.count(i) > 1}
    if duplicates:
        problems.append(f"{path.name}: duplicate ids {sorted(duplicates)[:5]}")
    for tag, name, value in checker.links + checker.images:
        if external(value):
            problems.append(f"{path.name}: <{tag} {name}> points outside: {value[:80]}")
    for _tag, _name, src in checker.images:
        why = check_image(src)
        if why:
            problems.append(f"{path.name}: {why}")
    css = "\n".join(checker.styles)
    if "@import" in css or re.search(r"url\(\s*['\"]?(?!data:|#)", css):
        problems.append(f"{path.name}: CSS loads something")
    return problems


def relative_links(path):
    """Relative hrefs of a page (no anchors, no data:), resolved against its folder."""
    checker = PageChecker()
    checker.feed(Path(path).read_text())
    out = []
    for _tag, name, value in checker.links:
        if name == "href" and not value.startswith(("#", "data:")) and not external(value):
            out.append(Path(path).parent / value.split("#")[0])
    return out


def images(path):
    checker = PageChecker()
    checker.feed(Path(path).read_text())
    return [src for _tag, _name, src in checker.images]
