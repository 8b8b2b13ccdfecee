"""reports.render_run: every page self-contained and valid; what the summary, verdicts and detail pages say."""

import re

import pytest

import reports
from reports import render
from reports_fixtures import find_id, make_run, matrix, no_library_leaks, rendered_base, runs  # noqa: F401
from reports_pages import check_page, images, relative_links


@pytest.fixture
def rendered(rendered_base):
    return rendered_base


def test_render_run_returns_index_html(rendered):
    run, index = rendered
    assert index == run / "index.html" and index.is_file()
    assert (run / "summary.md").is_file()


def test_every_page_is_self_contained_and_valid(rendered):
    run, _ = rendered
    pages = sorted(run.glob("*.html"))
    timing = [s for s in matrix("default")]
    assert len(pages) == len(timing) + 1, "index.html and one page per timing scenario"
    problems = [p for page in pages for p in check_page(page)]
    assert problems == []


def test_links_from_the_summary_resolve(rendered):
    run, index = rendered
    missing = [str(p) for p in relative_links(index) if not p.exists()]
    assert missing == []
    page = run / render.page_name(find_id(r"ringside\.thr\.8B\.busy_spin\.2cpu\.open-"))
    assert [str(p) for p in relative_links(page) if not p.exists()] == []
    assert len(images(index)) >= 6 and len(images(page)) == 1


def test_summary_table_has_every_timing_scenario_and_its_figures(rendered):
    run, index = rendered
    html = index.read_text()
    body = html.split('<table class="sortable" id="scenarios">')[1].split("</table>")[0]
    assert body.count("<tr") == len(matrix("default")) + 1
    target = find_id(r"ringside\.thr\.64B\.futex\.2cpu-")
    assert f'<a href="{render.page_name(target)}">{target}</a>' in body
    assert 'data-filter="scenarios"' in html and "aria-sort" in html, "filter box and sorting script"


def test_unsupported_percentiles_are_shown_as_such(tmp_path):
    run = tmp_path / "small"
    make_run(run, seed=3, count=2000, with_files=False, validation_runs=False, size="tiny")
    index = reports.render_run(run, jobs=1)
    html = index.read_text()
    row = re.search(r'<tr><td><a href="[^"]+">ringside\.thr\.8B\.busy_spin\.2cpu-[^<]+</a>.*?</tr>', html).group(0)
    cells = re.findall(r'<td class="num[^"]*"[^>]*>([^<]*)</td>', row)
    assert cells[2:6][2] == "unsupported", f"p99.9 of 2000 samples per repetition: {cells}"
    assert "unsupported" in (run / "summary.md").read_text()


def test_verdict_strip_reports_findings_and_missed_canaries(tmp_path):
    run = tmp_path / "broken"
    make_run(run, seed=1, with_files=False, checker_finding=True, canary_missed=True, size="tiny")
    html = reports.render_run(run, jobs=1).read_text()
    strip = html.split('<div class="strip" id="verdicts">')[1].split("</div>")[0]
    assert re.search(r'class="badge pass" href="#validation"><b>validation: pass', strip)
    assert re.search(r'class="badge fail" href="#checkers"><b>sanitizers: fail', strip)
    assert re.search(r'class="badge pass" href="#checkers"><b>leak checkers: pass', strip)
    assert re.search(r'class="badge fail" href="#canaries"><b>canaries: fail', strip)
    assert "WARNING: ThreadSanitizer: data race (pid=4242)" in html, "the log excerpt"
    assert "rs_ring_commit" in html and "MISSED" in html
    md = (run / "summary.md").read_text()
    assert "**sanitizers: FAIL**" in md and "**canaries: FAIL**" in md
    assert check_page(run / "index.html") == []


def test_validation_failures_fail_the_strip(tmp_path):
    broken = find_id(r"ringside\.thr\.8B\.yield\.2cpu-", "tiny")
    run = tmp_path / "lost"
    make_run(run, seed=1, with_files=False, failed_ids=(broken,), partial=True, size="tiny")
    html = reports.render_run(run, jobs=1).read_text()
    assert re.search(r'class="badge fail" href="#validation"><b>validation: fail', html)
    section = html.split('<h2 id="validation">')[1].split("<h2")[0]
    assert broken in section and "lost 3" in section
    assert "Partial run" in html


def test_requested_but_not_granted_priority_is_warned(rendered):
    _, index = rendered
    html = index.read_text()
    warning = html.split('<div class="warn" id="grants">')[1].split("</div>")[0]
    assert "requested scheduling was not granted" in warning
    assert re.search(r"<td>fifo 50 on cpu 0</td><td>other on cpu 0</td>", warning)


def test_provenance_names_the_machine(rendered):
    _, index = rendered
    html = index.read_text()
    provenance = html.split('<h2 id="provenance">')[1].split("</table>")[0]
    for text in ("d6906bc0c6a1", "GNU 12.2.0", "6.1.0-28-cloud-amd64", "Xeon(R) Platinum 8259CL",
                 "950000 us of every 1000000 us", "steal time", "9.5 GB/s", "release"):
        assert text in provenance, text


def test_detail_page_of_an_open_loop_shows_both_curves(rendered):
    run, _ = rendered
    page = run / render.page_name(find_id(r"ringside\.thr\.8B\.busy_spin\.2cpu\.open-"))
    html = page.read_text()
    assert "coordinated omission corrected" in html and html.count(">uncorrected</td>") == 5
    assert "p99.99" in html and "unsupported" in html, "20000 samples cannot support p99.99"


def test_pages_render_without_histogram_files_and_name_a_broken_one(tmp_path):
    run = tmp_path / "bare"
    make_run(run, seed=1, with_files=False, size="tiny")
    reports.render_run(run, jobs=1)
    assert [p for page in run.glob("*.html") for p in check_page(page)] == []
    damaged = tmp_path / "damaged"
    make_run(damaged, seed=1, validation_runs=False, size="tiny")
    victim = next(damaged.glob("scenarios/ringside.thr.8B.busy_spin.2cpu-*/release/rep1.hlog"))
    victim.write_text(victim.read_text().replace("HISTFAAA", "HISTF!!!", 1))
    reports.render_run(damaged, jobs=2)
    page = damaged / render.page_name(victim.parent.parent.name)
    assert "Histogram files that could not be read" in page.read_text() and "rep1.hlog: line" in page.read_text()


def test_cross_scenario_plots_are_all_there(rendered):
    _, index = rendered
    html = index.read_text()
    for anchor in ("payload", "heatmap", "priority", "cpu", "throughput", "peers"):
        assert f'<figure id="{anchor}">' in html, anchor
    assert "dashed: the machine memcpy bandwidth" in html
