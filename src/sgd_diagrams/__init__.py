"""sgd-diagrams: the diagrammatic perturbation theory of SGD, as software.

Everything a user types after ``import sgd_diagrams as sd`` (seed 001, "A Perturbative Analysis of
Stochastic Gradient Descent"; ``docs/architecture.md`` for the layers)::

    land = sd.landscape("helix")                   # or "mean-estimation:H=2,S=1", "example", a JSON path
    sched = sd.sgd(N=100, B=5, E=3)                # sd.gd(N=.., T=..), sd.from_batches(N, batches)
    s = sd.taylor_series(land, sched, order=3, quantity="test-loss")    # s.coefficients, s(eta)
    p = sd.predict(land, sched, order=3, eta=[0.01, 0.05], method="resummed")   # p.value, p.stderr
    r = sd.simulate(land, sched, optimizers=["sgd", "gd"], eta=[0.01, 0.05], trials=1000, seed=0)
    net = sd.TorchLandscape(model, loss_fn, inputs, targets)   # any nn.Module: sampling=sd.Sampling(samples=K)
    stats = sd.measure(net, 3, sd.Sampling(samples=20000))      # measure once (stats.save("S.json"))
    run = sd.Execution(backend="ray", device="cuda", progress=True)  # where/how: predict, measure, simulate, whatif
    p = sd.predict(stats, sd.sgd(N=100, B=5, E=3), order=3, eta=[0.01, 0.05])  # predict everywhere
    grid = sd.whatif(stats, sd.sgd(N=100, B=5, E=3), 3, eta=[0.01, 0.05], axis="batch", values=[1, 5, 10])
    near = net.pretrained(steps=500, eta=0.5)      # or net.with_init(sd.load_parameter_vector("w.npy", net))

Importing the package does not import torch: :class:`TorchLandscape` and the simulators load it on
first use (``pip install -c constraints.txt 'sgd-diagrams[torch]'``).
"""

from typing import Any

from .api import METHODS, Prediction, Simulation, load_statistics, measure, predict, simulate, taylor_series
from .comparison import Comparison, compare
from .diagrams import QUANTITY_NAMES, Diagram, Quantity, enumerate_diagrams, parse, quantity
from .errors import SgdDiagramsError
from .landscapes import (
    ExactLandscape,
    FiniteLandscape,
    SampledLandscape,
    as_exact,
    as_sampled,
    landscape,
    load_landscape,
)
from .landscapes.checkpoints import load_parameter_vector, save_parameter_vector
from .options import Execution, Sampling
from .schedules import Schedule, from_batches, gd, load_schedule, lr_schedule, sgd, sgd_reshuffled
from .schedules.histories import history_count
from .theory.orders import ORDER_LIMITS

__version__ = "0.1.0"
__all__ = [
    "Comparison",
    "Diagram",
    "ExactLandscape",
    "Execution",
    "FiniteLandscape",
    "METHODS",
    "ORDER_LIMITS",
    "Prediction",
    "QUANTITY_NAMES",
    "Quantity",
    "SampledLandscape",
    "Sampling",
    "Schedule",
    "SgdDiagramsError",
    "Simulation",
    "Statistics",
    "TorchLandscape",
    "WhatIf",
    "__version__",
    "as_exact",
    "as_sampled",
    "compare",
    "enumerate_diagrams",
    "from_batches",
    "gd",
    "history_count",
    "landscape",
    "load_landscape",
    "load_parameter_vector",
    "load_schedule",
    "lr_schedule",
    "load_statistics",
    "measure",
    "parse",
    "predict",
    "quantity",
    "save_parameter_vector",
    "sgd",
    "sgd_reshuffled",
    "simulate",
    "taylor_series",
    "theory_vs_simulation",
    "curves_vs_simulation",
    "whatif",
]


def __getattr__(name: str) -> Any:
    if name == "TorchLandscape":
        from .landscapes import TorchLandscape

        return TorchLandscape
    if name == "Statistics":
        from .estimation.statistics import Statistics

        return Statistics
    if name in ("whatif", "WhatIf"):
        from . import what_if

        return getattr(what_if, name)
    if name == "curves_vs_simulation":
        from .curve_plots import curves_vs_simulation

        return curves_vs_simulation
    if name == "theory_vs_simulation":
        from .plots import theory_vs_simulation

        return theory_vs_simulation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
