"""The reports in a real headless Chromium: every image decodes, no script error, sorting and filtering work."""

import json
import re
import subprocess

import pytest

import reports
from reports import render
from reports_fixtures import (TARGET, chromium, clean_env, find_id, no_library_leaks, rendered_base,  # noqa: F401
                              runs)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=15000"]

# Goes first in <head>: records every error, including those of the page's own script.
PROBE_HEAD = """<script>window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || e)); });</script>"""
# Goes last in <body>: after load, checks images, sorts by a numeric column, filters, writes a JSON verdict.
PROBE_TAIL = """<script>window.addEventListener("load", function () {
  var result = {images: document.images.length, broken: [], sorted: null, filtered: null, restored: null};
  Array.from(document.images).forEach(function (img) {
    if (!(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0)) result.broken.push(img.alt);
  });
  var table = document.querySelector("table.sortable");
  if (table) {
    var headers = Array.from(table.querySelectorAll("th"));
    var column = headers.findIndex(function (h) { return h.classList.contains("num"); });
    headers[column].click();
    var values = Array.from(table.tBodies[0].rows).map(function (r) { return r.cells[column].getAttribute("data-v"); })
      .filter(function (v) { return v !== null && v !== ""; }).map(parseFloat);
    result.sorted = values.length > 1 && values.every(function (v, i) { return i === 0 || values[i - 1] <= v; });
  }
  var input = document.querySelector("input[data-filter]");
  if (input) {
    var rows = Array.from(document.getElementById(input.getAttribute("data-filter")).tBodies[0].rows);
    var shown = function () { return rows.filter(function (r) { return r.style.display !== "none"; }).length; };
    input.value = "no-such-scenario-anywhere"; input.dispatchEvent(new Event("input"));
    result.filtered = shown();
    input.value = ""; input.dispatchEvent(new Event("input"));
    result.restored = shown() === rows.length;
  }
  result.errors = window.__errors;
  var out = document.createElement("pre"); out.id = "probe"; out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});</script>"""


def browse(page, tmp_path, *extra):
    """Chromium's output for one page with a fresh profile, without the interpreter's ASan preload."""
    profile = tmp_path / f"profile-{page.stem[:40]}-{len(extra)}"
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    done = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(page, tmp_path):
    """The probe's verdict for `page`, loaded from a copy with the probe scripts added."""
    html = page.read_text()
    copy = tmp_path / f"probed-{page.name}"
    copy.write_text(html.replace("<head>", "<head>\n" + PROBE_HEAD, 1).replace("</body>", PROBE_TAIL + "\n</body>", 1))
    dom = browse(copy, tmp_path, "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run in {page.name}: {dom[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


@pytest.fixture(scope="module")
def pages(request, runs, tmp_path_factory):
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; run_all.py's bootstrap installs it)")
    base, _ = request.getfixturevalue("rendered_base")
    cand = runs("regressed", seed=2, factor={find_id(TARGET): 1.25})
    out = tmp_path_factory.mktemp("compare")
    reports.compare(base, cand, out, fail_on_regression=False)
    detail = base / render.page_name(find_id(r"ringside\.thr\.8B\.busy_spin\.2cpu\.open-"))
    return {"index": base / "index.html", "detail": detail, "compare": out / "compare.html"}


@pytest.mark.parametrize("name", ["index", "detail", "compare"])
def test_page_images_decode_and_scripts_run_cleanly(pages, name, tmp_path):
    result = probe(pages[name], tmp_path)
    assert result["errors"] == []
    assert result["broken"] == [] and result["images"] >= 1
    if name != "detail":
        assert result["sorted"] is True, "clicking a numeric header sorts ascending"
        assert result["filtered"] == 0 and result["restored"] is True


def test_screenshot_of_the_summary_is_kept_in_the_run_folder(pages, tmp_path):
    from PIL import Image
    shot = pages["index"].parent / "screenshot.png"
    browse(pages["index"], tmp_path, f"--screenshot={shot}", "--window-size=1400,2400")
    with Image.open(shot) as image:
        assert image.size == (1400, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100, "a rendered page, not a blank one"


def test_the_probe_itself_catches_a_broken_image_and_a_script_error(tmp_path):
    """A canary for the probe: a check that cannot fail proves nothing."""
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; run_all.py's bootstrap installs it)")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>bad</title></head><body>'
                    '<img alt="truncated" src="data:image/png;base64,iVBORw0KGgo=">'
                    '<script>undefinedFunction();</script></body></html>')
    result = probe(page, tmp_path)
    assert result["broken"] == ["truncated"]
    assert any("undefinedFunction" in e for e in result["errors"])
