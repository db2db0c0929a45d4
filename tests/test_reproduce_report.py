"""Reports as data: hostile report fields never reach index.html unescaped; provenance, CSV, re-rendering, compare."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from sgd_diagrams.cli import main
from sgd_diagrams.experiments.reproduce import CATALOG, load, rerender_reproduction, write_index
from sgd_diagrams.experiments.reproduce.html_index import is_safe_figure_name, markdown_to_html
from sgd_diagrams.experiments.reproduce.report import render_csv

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reproductions"
EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&<b>'


def _report(name: str, **over) -> dict:
    table = "\n\n| a | b |\n|---|---|\n| <i>x</i> | [l](javascript:alert(3)) |"
    p = {"name": name, "title": EVIL, "claim": EVIL + table,
         "measured": EVIL + " ![i](https://evil.example/x.png) <https://evil.example>", "verdict": EVIL,
         "reason": EVIL, "rule": [EVIL], "figures": [], "notes": [EVIL],
         "comparisons": [{"family": EVIL, "point": EVIL, "observed": 1.0, "predicted": 1.0, "z": 0.0}],
         "meta": {k: EVIL for k in ("commit", "version", "python", "numpy", "torch", "cpu", "command", "started")}
         | {"seed": EVIL, "quick": False, "warnings": [EVIL]}, "data": {}}
    p.update(over)
    return p


def _tags(page: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page)}


def test_hostile_fields_are_escaped_everywhere(tmp_path):
    (tmp_path / "helix.json").write_text(json.dumps(_report("helix")))
    page = write_index(tmp_path)[0].read_text()
    assert not re.search(r"<script|<img[^>]*onerror|<i>x</i>|<b>|=\"javascript:|=\"https?:", page, re.I)
    assert _tags(page) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "div", "p", "ul",
                           "li", "cite", "span", "table", "tr", "th", "td", "a", "section", "details", "summary",
                           "code", "strong", "em", "blockquote", "thead", "tbody", "sub", "sup", "ol", "pre", "hr",
                           "br", "figure", "figcaption", "img"}
    # every <img> and href on the page is ours: figures beside the page, anchors, or our downloads
    assert re.findall(r"<img ", page) == []
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(h.startswith("#") or re.fullmatch(r"helix\.(csv|md|json)", h) for h in hrefs), hrefs
    # an unknown verdict gets the neutral class, never a class made from the text
    assert 'class="badge v-unknown"' in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("figure", ["https:host?x.png", "..\\..\\x.png", "../x.png", "a/b.png", "C:x.png",
                                    "/etc/x.png", "x.png\"onerror=\"1.png", ".hidden.png", "x.gif"])
def test_unsafe_figure_names_leave_the_report_out(tmp_path, figure):
    assert not is_safe_figure_name(figure)
    (tmp_path / "helix.json").write_text(json.dumps(_report("helix", figures=[figure])))
    with pytest.warns(RuntimeWarning, match="unsafe figure names"):
        with pytest.raises(Exception, match="no readable reproduction reports"):
            write_index(tmp_path)


def test_markdown_renders_tables_and_keeps_html_as_text():
    out = markdown_to_html("**bold** S_{μνλ}\n\n| a | b |\n|---|---|\n| 1 | <u>2</u> |\n\n> quote")
    assert "<strong>bold</strong>" in out and "S<sub>μνλ</sub>" in out and "<table>" in out
    assert "&lt;u&gt;2&lt;/u&gt;" in out and "<blockquote>" in out


def test_hostile_json_files_are_left_out(tmp_path):
    (tmp_path / "helix.json").write_text('{"a": 1, "a": 2}')
    (tmp_path / "gdc.json").write_text("[" * 100 + "]" * 100)
    os.mkfifo(tmp_path / "epochs.json")
    (tmp_path / "stic.json").write_text(json.dumps(_report("stic", title="fine")))
    with pytest.warns(RuntimeWarning):
        path, count = write_index(tmp_path)
    assert count == 1 and 'id="stic"' in path.read_text()


def test_csv_lists_the_points_the_verdict_rests_on():
    payload = json.loads((DOCS / "helix.json").read_text())
    rows = list(csv.DictReader(io.StringIO(render_csv(payload))))
    assert rows and {"family", "point", "observed", "predicted", "z", "rejected"} <= set(rows[0])
    for r in rows:
        se = (float(r["se_observed"]) ** 2 + float(r["se_predicted"]) ** 2) ** 0.5
        assert float(r["z"]) == pytest.approx((float(r["observed"]) - float(r["predicted"])) / se, rel=1e-9)


def _copy_report(name: str, dest: Path) -> None:
    shutil.copy(DOCS / f"{name}.json", dest)
    for fig in json.loads((DOCS / f"{name}.json").read_text())["figures"]:
        shutil.copy(DOCS / fig, dest)


def test_rerender_recomputes_the_verdict_and_keeps_the_numbers(tmp_path):
    _copy_report("cubic-chi", tmp_path)
    before = json.loads((tmp_path / "cubic-chi.json").read_text())
    payload = rerender_reproduction("cubic-chi", tmp_path)
    assert payload["data"] == before["data"]
    assert payload["verdict"] == load("cubic-chi").assess(before["data"]).verdict
    assert payload["meta"]["rendered"]["command"].startswith("sgd-diagrams reproduce cubic-chi --rerender")
    for f in ("cubic-chi.md", "cubic-chi.csv", "cubic-chi.json"):
        mode = stat.S_IMODE((tmp_path / f).stat().st_mode)
        assert mode & 0o044 == 0o044 & ~_umask(), oct(mode)  # readable by others unless the umask forbids it
    md = (tmp_path / "cubic-chi.md").read_text()
    assert "Rule: z = (observed − predicted)" in md and payload["verdict"] in md


def _umask() -> int:
    m = os.umask(0o022)
    os.umask(m)
    return m


def test_compare_marks_a_changed_verdict(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    for d in (old, new):
        _copy_report("batch-size", d)
    p = json.loads((old / "batch-size.json").read_text())
    p["verdict"] = "refuted"
    (old / "batch-size.json").write_text(json.dumps(p))
    assert main(["reproduce", "--index", "--out", str(new), "--compare", str(old)]) == 0
    page = (new / "index.html").read_text()
    assert "reference run" in page and "changed" in page


def test_index_and_md_carry_provenance(tmp_path):
    _copy_report("stic", tmp_path)
    page = write_index(tmp_path)[0].read_text()
    assert 'id="provenance"' in page and "A Perturbative Analysis of Stochastic Gradient Descent" in page
    assert 'name="viewport"' in page and "low-power" not in page
    assert set(CATALOG) >= {"stic"}


class _FakeExperiment:
    """A tiny experiment: one cached piece, one warning, a comparison with power."""

    calls = 0

    @staticmethod
    def run(ctx):
        import warnings

        from sgd_diagrams.experiments.reproduce import Outcome

        ctx.cached("piece-1", lambda: {"x": 1})
        _FakeExperiment.calls += 1
        if _FakeExperiment.calls == 1:
            raise KeyboardInterrupt  # killed after its first piece
        warnings.warn("growing propagators", RuntimeWarning, stacklevel=1)
        return Outcome("t", "c", "m", "confirmed", "r", {"obs": 1.0, "se": 0.1})

    @staticmethod
    def assess(data):
        from sgd_diagrams.experiments.reproduce.verdicts import Comparison, Family, decide

        return decide(Family("fake", [Comparison("p", data["obs"], data["se"], 1.0, 0.0, 5.0)]))


def test_provenance_is_recorded_and_time_adds_up_over_a_resumed_run(tmp_path, monkeypatch):
    from sgd_diagrams.experiments.reproduce import runner

    monkeypatch.setattr(runner, "load", lambda name: _FakeExperiment)
    with pytest.raises(KeyboardInterrupt):
        runner.run_reproduction("helix", tmp_path, quick=True, show_progress=False)
    with pytest.warns(RuntimeWarning, match="growing propagators"):
        payload = runner.run_reproduction("helix", tmp_path, quick=True, show_progress=False)
    meta = payload["meta"]
    assert meta["invocations"] == 2 and meta["wall_seconds"] >= meta["this_invocation_wall_seconds"]
    assert meta["warnings"] == ["RuntimeWarning: growing propagators"]
    assert meta["python"].count(".") == 2 and meta["numpy"][0].isdigit() and meta["quick"] is True
    assert meta["commit"] and isinstance(meta["cpu_count"], int) and meta["started"].endswith("+00:00")
    assert payload["verdict"] == "confirmed" and payload["experiment_reading"]["verdict"] == "confirmed"
    md = (tmp_path / "helix.md").read_text()
    assert "Quick run: low-powered" in md and "growing propagators" in md
