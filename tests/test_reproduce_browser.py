"""index.html opened in a real browser (Debian's Chromium driven by Playwright), at 1280 px and 400 px wide.

The committed report and a fresh quick report (two cheap experiments) must: load every image, log no console
error, not scroll sideways at 400 px, resolve every link, show the provenance block and the verdict counts, and
— for the quick run — the low-power banner.  `.ci/run` installs Chromium; without it the test says so and skips.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from sgd_diagrams.experiments.reproduce import CATALOG, run_reproduction, write_index

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reproductions"
QUICK = ("stic", "cubic-chi")  # the two cheapest quick runs (seconds each)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (CI's .ci/run installs Debian's chromium: apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--allow-file-access-from-files"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def quick_index(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick-reports")
    for name in QUICK:
        run_reproduction(name, out, quick=True, seed=0, show_progress=False)
    return write_index(out)[0]


def _inspect(browser, page_path: Path, width: int) -> dict:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.resolve().as_uri(), wait_until="load")
    info = page.evaluate("""() => ({
        images: [...document.images].map(i => ({src: i.getAttribute('src').slice(0, 80), ok: i.complete &&
                                                i.naturalWidth > 0, height: i.getBoundingClientRect().height})),
        scrollWidth: document.documentElement.scrollWidth,
        hrefs: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
        ids: [...document.querySelectorAll('[id]')].map(e => e.id),
        provenance: !!document.querySelector('#provenance') &&
                    document.querySelector('#provenance').innerText.includes('commit'),
        counts: [...document.querySelectorAll('#verdicts .count')].map(e => [e.dataset.verdict, +e.innerText]),
        sections: document.querySelectorAll('section').length,
        banner: !!document.querySelector('#low-power'),
        viewport: !!document.querySelector('meta[name=viewport]'),
    })""")
    page.close()
    info["errors"] = errors
    return info


def _check_page(browser, page_path: Path, *, quick: bool) -> None:
    for width in (1280, 400):
        info = _inspect(browser, page_path, width)
        assert info["images"], "no figures on the page"
        assert all(i["ok"] for i in info["images"]), [i["src"] for i in info["images"] if not i["ok"]]
        assert info["errors"] == [], info["errors"]
        if width == 400:
            assert info["scrollWidth"] <= 400, f"the page scrolls sideways at 400 px ({info['scrollWidth']} px)"
        for href in info["hrefs"]:
            if href.startswith("#"):
                assert href[1:] in info["ids"], href
            elif not href.startswith("data:"):
                target = page_path.parent / unquote(urlparse(href).path)
                assert target.is_file(), f"link {href} does not resolve"
        assert info["provenance"] and info["viewport"]
        counts = dict(info["counts"])
        assert set(counts) == {"confirmed", "confirmed with a correction", "refuted", "inconclusive"}
        assert sum(counts.values()) == info["sections"] > 0
        assert info["banner"] is quick
        if width == 1280 and not page_path.name.startswith("alone"):
            _check_panel_heights(page_path.parent, info["images"])


def _check_panel_heights(folder: Path, images: list[dict]) -> None:
    """At 1280 px every row of panels of every figure is ≥ 350 px tall as rendered, and so is its smallest
    data area (the layout is in the PNG's text chunks, written by save_report_figure)."""
    Image = pytest.importorskip("PIL.Image")
    for img in images:
        with Image.open(folder / img["src"]) as im:
            rows, fraction = int(im.info["panel-rows"]), float(im.info["min-axes-fraction"])
        assert img["height"] / rows >= 350, f"{img['src']}: rows of panels {img['height'] / rows:.0f} px tall"
        assert img["height"] * fraction >= 300, f"{img['src']}: a data area {img['height'] * fraction:.0f} px tall"


def test_committed_index_in_a_browser(browser):
    if not (DOCS / "index.html").exists():
        pytest.skip("no committed index.html")
    _check_page(browser, DOCS / "index.html", quick=False)
    assert sum(1 for n in CATALOG if (DOCS / f"{n}.json").exists()) == len(CATALOG)


def test_fresh_quick_index_in_a_browser(browser, quick_index):
    _check_page(browser, quick_index, quick=True)


def test_inline_index_works_alone(browser, quick_index, tmp_path):
    page, _ = write_index(quick_index.parent, inline=True, target=tmp_path / "alone.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.html"]  # nothing beside it
    _check_page(browser, page, quick=True)
