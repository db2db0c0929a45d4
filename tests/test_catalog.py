"""The torch-free catalog of names agrees with the registries; the CLI starts without torch."""

from __future__ import annotations

import subprocess
import sys

from sgd_diagrams import catalog
from sgd_diagrams.landscapes import registry as landscapes
from sgd_diagrams.optimizers import registry as optimizers


def test_catalog_matches_registries():
    assert set(catalog.BUILTIN_LANDSCAPES) == set(landscapes.BUILTIN_LANDSCAPES)
    assert tuple(catalog.OPTIMIZER_NAMES) == tuple(optimizers.OPTIMIZER_NAMES)


def test_cli_parser_does_not_import_torch():
    code = "import sys, sgd_diagrams.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
