"""The layers import downward only, and nothing imports the CLI (docs/architecture.md).

Walks every module's AST (imports inside functions included, ``TYPE_CHECKING`` blocks excluded) and
maps each ``sgd_diagrams`` import to its layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sgd_diagrams"

# rank of each top-level module or subpackage; a module may import only strictly lower ranks (or itself)
LAYERS = {
    "errors": 0, "catalog": 0, "data": 0, "io": 0.5, "limits": 0.5, "backends": 0.5, "options": 0.6,
    "diagrams": 1,
    "schedules": 2,
    "drawing": 3, "values": 3,
    "theory": 4,
    "landscapes": 5,
    "optimizers": 6,
    "estimation": 7,
    "api": 8, "comparison": 8.05, "plots": 8.1, "curve_plots": 8.15, "what_if": 8.25, "__init__": 8.5,
    "experiments": 9,
    "cli": 10,
}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "sgd_diagrams", module
    if len(parts) == 1 or (parts[1] not in LAYERS and not (PACKAGE / parts[1]).exists()):
        return "__init__"  # the package itself, or a name it defines (``from .. import __version__``)
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[str]:
    """Every ``sgd_diagrams`` import of the module at ``path`` (see :func:`_imports_in`)."""
    return _imports_in(path, PACKAGE.parent)


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path):
    source_layer = _layer_of(_module_name(path)) if path.name != "__init__.py" or path.parent != PACKAGE \
        else "__init__"
    rank = LAYERS[source_layer]
    for target in _imports(path):
        layer = _layer_of(target)
        if layer == source_layer:
            continue
        assert layer != "cli", f"{path.relative_to(PACKAGE)} imports the CLI ({target})"
        assert LAYERS[layer] < rank, (
            f"{path.relative_to(PACKAGE)} (layer {source_layer}) imports {target} (layer {layer}): upward or sideways"
        )


def test_every_module_has_a_layer():
    for path in MODULES:
        name = _module_name(path).split(".")
        assert len(name) == 1 or name[1] in LAYERS, path


def test_core_needs_no_torch():
    """diagrams, schedules, values, theory (and the public API's import) run without torch."""
    import subprocess
    import sys

    code = ("import sys, sgd_diagrams, sgd_diagrams.theory.resummation, sgd_diagrams.theory.symbolic, "
            "sgd_diagrams.drawing, sgd_diagrams.landscapes; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- no file-level import cycles -------------------------------------------------------------------------
def _module_graph(package: Path) -> dict[str, set[str]]:
    """module → the package's modules it imports (every import, inside functions too; package roots resolved).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg`` itself.
    A submodule's implicit import of its parent package is not an edge (Python's own order, not the author's).
    """
    paths = sorted(package.rglob("*.py"))
    root = package.parent
    names = {_module_name_in(p, root): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        graph[name] = set()
        for target in _imports_in(path, root):
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def _module_name_in(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_in(path: Path, root: Path) -> list[str]:
    """Dotted targets of every import of the path's own top-level package (``TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    module = _module_name_in(path, root)
    top = module.split(".")[0]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for sub in node.body for n in ast.walk(sub)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == top]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                source = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == top:
                source = node.module
            else:
                continue
            out += [source] + [f"{source}.{a.name}" for a in node.names]
    return out


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_file_level_import_cycles():
    cycles = import_cycles(_module_graph(PACKAGE))
    assert not cycles, f"import cycles (imports inside functions count): {cycles}"


def test_the_cycle_detector_finds_a_planted_cycle(tmp_path):
    """A temporary package whose cycle is tied off with an import inside a function is still a cycle."""
    pkg = tmp_path / "planted"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from planted.sub import c\n    return c.h()\n")
    (pkg / "sub" / "c.py").write_text("from ..sub.a import f\n\ndef h():\n    return f\n")
    (pkg / "d.py").write_text("import planted.sub.a\n")  # imports into the cycle, is not part of it
    # b reaches c through the package planted.sub, whose __init__ imports a: the package is in the cycle too
    assert import_cycles(_module_graph(pkg)) == [["planted.sub", "planted.sub.a", "planted.sub.b", "planted.sub.c"]]
    (pkg / "sub" / "b.py").write_text("def g():\n    return 1\n")  # cut the cycle
    assert import_cycles(_module_graph(pkg)) == []


def test_the_cycle_detector_on_a_synthetic_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(import_cycles(graph)) == [["a", "b", "c"], ["d", "e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
