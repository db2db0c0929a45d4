"""Names of the built-in landscapes and optimizers, importable without torch.

The registries (:mod:`sgd_diagrams.landscapes.registry`, :mod:`sgd_diagrams.optimizers.registry`)
build these objects; the command line only needs their names to build its parser, so it can start
without importing torch.  ``tests/test_catalog.py`` keeps the two in sync.
"""

from __future__ import annotations

ARTIFICIAL_LANDSCAPES = ("gauss", "gauss-normal", "cubic-chi", "helix", "helix-ring", "mean-estimation",
                         "mean-estimation-l2")
MODELS = ("logistic", "convnet")
DATASETS = ("digits", "fashion", "cifar10")
BUILTIN_LANDSCAPES = ARTIFICIAL_LANDSCAPES + tuple(f"{m}-{d}" for m in MODELS for d in DATASETS)
OPTIMIZER_NAMES = ("sgd", "gd", "gdc", "sde", "sde-frozen", "ode", "momentum", "stic")
