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
    "errors": 0, "catalog": 0, "data": 0, "io": 0.5, "limits": 0.5, "backends": 0.5,
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
    tree = ast.parse(path.read_text())
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for sub in node.body for n in ast.walk(sub)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("sgd_diagrams")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x, y
                    out += [f"{target}.{a.name}" for a in node.names]
                else:
                    out.append(target)
            elif node.module and node.module.startswith("sgd_diagrams"):
                out.append(node.module)
    return out


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
