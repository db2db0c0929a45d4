"""The reproduce framework: catalog, CLI dialect, index.html, and the committed default-mode reports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sgd_diagrams.cli import main
from sgd_diagrams.experiments.reproduce import CATALOG, VERDICTS, check_outputs, load, write_index

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reproductions"


def test_every_catalog_entry_has_run_and_check():
    for name in CATALOG:
        module = load(name)
        assert callable(module.run) and callable(module.check), name


def test_list_json(capsys):
    assert main(["reproduce", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in listed] == list(CATALOG)


def test_unknown_name_is_one_line(capsys):
    assert main(["reproduce", "no-such-experiment"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown experiment" in err and "Traceback" not in err


def test_index_without_reports_is_refused(tmp_path, capsys):
    assert main(["reproduce", "--index", "--out", str(tmp_path)]) == 2
    assert "no NAME.json reports" in capsys.readouterr().err


@pytest.mark.parametrize("name", [n for n in CATALOG if (DOCS / f"{n}.json").exists()])
def test_committed_reports_meet_their_claims(name):
    """Each committed default-mode report still passes its experiment's own check (and has its figures)."""
    assert check_outputs(name, DOCS) == []
    payload = json.loads((DOCS / f"{name}.json").read_text())
    assert payload["verdict"] in VERDICTS
    assert not payload["meta"]["quick"], f"{name}: the committed report must come from the default mode"


def test_index_is_self_contained(tmp_path):
    names = [n for n in CATALOG if (DOCS / f"{n}.json").exists()][:2]
    if not names:
        pytest.skip("no committed reports")
    for n in names:
        shutil.copy(DOCS / f"{n}.json", tmp_path)
        for fig in json.loads((DOCS / f"{n}.json").read_text())["figures"]:
            shutil.copy(DOCS / fig, tmp_path)
    path, count = write_index(tmp_path)
    assert count == len(names)
    page = path.read_text()
    for n in names:
        assert f'id="{n}"' in page
    sources = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert sources and all("://" not in s and not s.startswith("/") for s in sources)
    assert all((tmp_path / s).exists() for s in sources if s.endswith(".png") or s.endswith(".json"))


def test_check_outputs_reports_a_missing_figure(tmp_path):
    name = next((n for n in CATALOG if (DOCS / f"{n}.json").exists()), None)
    if name is None:
        pytest.skip("no committed reports")
    shutil.copy(DOCS / f"{name}.json", tmp_path)
    problems = check_outputs(name, tmp_path)
    assert any("was not written" in p for p in problems)


def test_negative_seed_is_one_line(tmp_path, capsys):
    assert main(["reproduce", "helix", "--quick", "--seed", "-3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed must be an integer" in err
    assert not any(tmp_path.iterdir())


def test_index_skips_malformed_reports(tmp_path, capsys):
    (tmp_path / "helix.json").write_text("{bad")
    (tmp_path / "gdc.json").write_text("[1, 2]")
    (tmp_path / "epochs.json").write_text('{"verdict": 5, "figures": ["../../etc/x.png"]}')
    assert main(["reproduce", "--index", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no readable reproduction reports" in err and "Traceback" not in err
    assert not (tmp_path / "index.html").exists()
