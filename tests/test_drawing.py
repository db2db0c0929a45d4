"""Pictures: layout geometry, histories, SVG/PNG output, gallery and CLI handlers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgd_diagrams.cli import main
from sgd_diagrams.diagrams import enumerate_diagrams, parse
from sgd_diagrams.drawing import (
    auto_history,
    check_history,
    diagram_layout,
    draw_diagram,
    draw_gallery,
    draw_history,
    parse_history,
    picture_filename,
)
from sgd_diagrams.drawing.filenames import notation_from_filename
from sgd_diagrams.errors import SgdDiagramsError
from sgd_diagrams.schedules import from_batches, gd, sgd
from sgd_diagrams.schedules.histories import history_count

pytest.importorskip("matplotlib")

# every train diagram (test diagrams are the train diagrams whose root is alone)
ALL_UP_TO_4 = [d for k in range(5) for d in enumerate_diagrams(k, "train")]
SVG_NS = "{http://www.w3.org/2000/svg}"


# -- layout ---------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(d=st.sampled_from(ALL_UP_TO_4))
def test_layout_children_left_of_parents_root_rightmost(d):
    pos = diagram_layout(d).positions
    for v in range(1, d.n_nodes):
        assert pos[v][0] < pos[d.parents[v]][0]
    assert all(pos[0][0] > pos[v][0] for v in range(1, d.n_nodes))
    # distinct nodes never overlap
    assert len(set(pos)) == d.n_nodes


def test_layout_spreads_siblings():
    pos = diagram_layout(parse("r(abc)")).positions
    assert len({p[1] for p in pos[1:]}) == 3


# -- histories -----------------------------------------------------------------------------------------------
SCHEDULES = [sgd(4, 1, 3), sgd(6, 2, 2), gd(3, 4), sgd(6, 3, 3, shuffle_seed=1), from_batches(3, [[0], [1, 2], [0, 2]])]


@settings(max_examples=60, deadline=None)
@given(d=st.sampled_from([d for d in ALL_UP_TO_4 if d.n_edges <= 3]), schedule=st.sampled_from(SCHEDULES))
def test_auto_history_is_valid_when_one_exists(d, schedule):
    if history_count(d, schedule, exact=True) == 0:
        with pytest.raises(SgdDiagramsError):
            auto_history(d, schedule)
        return
    hist = auto_history(d, schedule)
    grid = schedule.grid()
    assert set(hist) == set(range(1, d.n_nodes))
    for v, (n, t) in hist.items():
        assert grid[n, t] == 1  # shaded
        p = d.parents[v]
        assert t < (schedule.T if p == 0 else hist[p][1])  # strictly earlier than the parent
    for members in d.part_members:
        rows = {hist[v][0] for v in members if v != 0}
        assert len(rows) <= 1  # one part, one row
    assert check_history(d, schedule, hist) == hist


def test_check_history_rejects_bad_histories():
    d = parse("r(a(a))")
    s = sgd(3, 1, 2)  # row 0 is shaded at t = 0 and t = 3
    assert check_history(d, s, {1: (0, 3), 2: (0, 0)}) == {1: (0, 3), 2: (0, 0)}
    for bad in ({1: (0, 0), 2: (0, 3)}, {1: (0, 3), 2: (1, 1)}, {1: (0, 4), 2: (0, 0)}, {1: (0, 3)}):
        with pytest.raises(SgdDiagramsError):
            check_history(d, s, bad)
    assert parse_history("[[0, 3], [0, 0]]", d) == {1: (0, 3), 2: (0, 0)}
    with pytest.raises(SgdDiagramsError):
        parse_history("[[0, 3", d)


# -- pictures ------------------------------------------------------------------------------------------------
def _node_ids(svg_path) -> list[str]:
    root = ET.parse(svg_path).getroot()
    assert root.tag == SVG_NS + "svg"
    return [el.get("id") for el in root.iter() if (el.get("id") or "").startswith("node-")]


@pytest.mark.parametrize("notation", ["r", "r(a)", "r(a(b)a)", "r(aaa)", "a(b(a))", "r(a(b(c(d))))"])
def test_svg_has_one_node_per_diagram_node(tmp_path, notation):
    d = parse(notation)
    path = draw_diagram(d, tmp_path / "d.svg")
    ids = _node_ids(path)
    assert sorted(ids) == sorted(f"node-{v}" for v in range(d.n_nodes))
    # each node group holds a drawn path (the dot)
    root = ET.parse(path).getroot()
    for el in root.iter():
        if (el.get("id") or "").startswith("node-"):
            assert any(child.tag == SVG_NS + "path" for child in el.iter())


def test_png_and_history_svg(tmp_path):
    png = draw_diagram("r(a(b)c)", tmp_path / "d.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    d = parse("r(a(b(a)))")
    svg = draw_history(d, sgd(4, 1, 3), None, tmp_path / "h.svg")
    assert sorted(_node_ids(svg)) == [f"node-{v}" for v in range(d.n_nodes)]


def test_gallery_writes_every_diagram_and_index(tmp_path):
    index = draw_gallery(2, "test", tmp_path)
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 1 + 1 + 4
    text = index.read_text()
    for d in [d for k in range(3) for d in enumerate_diagrams(k, "test")]:
        assert f"`{d}`" in text and picture_filename(d) in text


def test_filenames_round_trip():
    for d in ALL_UP_TO_4:
        name = picture_filename(d, ".svg")
        assert "(" not in name and ")" not in name
        assert parse(notation_from_filename(name)) == d
    assert len({picture_filename(d) for d in ALL_UP_TO_4}) == len(ALL_UP_TO_4)


@pytest.mark.parametrize("bad", ["r(a(b", "", "R(a)", "r(r)", "r()", "r(a))"])
def test_bad_notation_raises(tmp_path, bad):
    with pytest.raises(SgdDiagramsError):
        draw_diagram(bad, tmp_path / "d.svg")


def test_bad_output_suffix_and_huge_grid(tmp_path):
    with pytest.raises(SgdDiagramsError):
        draw_diagram("r(a)", tmp_path / "d.pdf")
    with pytest.raises(SgdDiagramsError):
        draw_diagram("r(a)", tmp_path / "missing" / "d.png")
    with pytest.raises(SgdDiagramsError):
        draw_history("r(a)", gd(100, 3), None, tmp_path / "h.png")


# -- CLI handlers --------------------------------------------------------------------------------------------
def _cli(argv):
    return main(argv)


def test_cli_draw(tmp_path, capsys):
    assert _cli(["draw", "r(a(b)c)", "-o", str(tmp_path / "d.svg")]) == 0
    assert _cli(["draw", "r(a(a))", "-o", str(tmp_path / "h.png"), "--schedule", "sgd:N=3,B=1,E=2"]) == 0
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"N": 3, "batches": [[0], [1, 2], [0, 2]]}))
    history = ["--history", "[[0,2],[0,0]]"]
    assert _cli(["draw", "r(a(a))", "-o", str(tmp_path / "g.png"), "--grid", str(grid), *history]) == 0
    assert _cli(["draw", "--all", "--edges", "1", "--kind", "test", "-o", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "index.md").exists() and (tmp_path / "all" / "r_a.png").exists()
    capsys.readouterr()
    for argv in (
        ["draw", "r(a(b", "-o", str(tmp_path / "x.svg")],
        ["draw", "r(a(a))", "-o", str(tmp_path / "x.png"), "--schedule", "sgd:N=3,B=1,E=1"],
        ["draw", "r(a)", "-o", str(tmp_path / "x.png"), "--history", "auto"],
        ["draw", "-o", str(tmp_path / "x.png")],
        ["draw", "r(a)", "--all", "-o", str(tmp_path)],
    ):
        assert _cli(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err


def test_cli_coefficients(tmp_path, capsys):
    assert _cli(["coefficients", "--order", "2", "--format", "json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["schedule"] == "sgd" and len(obj["terms"]) == 6
    out = tmp_path / "c.md"
    pics = tmp_path / "pics"
    assert _cli(["coefficients", "--order", "2", "--format", "markdown", "--pictures", str(pics), "-o", str(out)]) == 0
    assert '<img src="pics/r_a_a.png" alt="r(a(a))"' in out.read_text()
    assert _cli(["coefficients", "--order", "1", "--format", "text", "--pictures", str(pics)]) == 2
    assert _cli(["coefficients", "--order", "9"]) == 2
    assert _cli(["coefficients", "--at", "B=x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3
