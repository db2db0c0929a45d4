"""Every size and cost limit, in one place (shown by ``sgd-diagrams <command> --help``).

A job that would not finish in reasonable time or memory on a 2-core, 24 GiB machine is refused
*before* it starts, with the estimate and what to do.  Two kinds of limit:

* **hard** — sizes that would exhaust memory or never return (a schedule with 10⁹ steps, a diagram
  with 9 edges, a 2 GiB simulation chunk): always refused;
* **soft** — jobs estimated to take longer than :data:`WORK_BUDGET_SECONDS`: refused unless the user
  passes ``force=True`` (``--force`` on the command line).

The estimates are deliberately simple models calibrated on the 2-core development machine
(``benchmarks/bench_core.py``); they are conservative to within a factor of a few.
"""

from __future__ import annotations

from .errors import SgdDiagramsError

__all__ = [
    "MAX_CELLS",
    "MAX_CHUNK_BYTES",
    "MAX_EDGES",
    "MAX_EDGES_UNFORCED",
    "MAX_EXPRESSION_DEPTH",
    "MAX_INPUT_BYTES",
    "MAX_LANDSCAPE_POINTS",
    "MAX_LR_PARTS",
    "MAX_MODEL_PARAMETERS",
    "MAX_N",
    "MAX_NOTATION_NODES",
    "MAX_SAMPLES",
    "MAX_STATISTICS_BYTES",
    "MAX_STATISTICS_TENSOR_FLOATS",
    "MAX_STEPS",
    "MAX_SUBSTEPS",
    "MAX_WHATIF_CELLS",
    "MAX_SYMBOLIC_DERIVATIVES",
    "MAX_TRIALS",
    "WORK_BUDGET_SECONDS",
    "check_work",
    "summary",
]

MAX_N = 10**7  # training points in a schedule
MAX_STEPS = 10**7  # steps T of a schedule
MAX_CELLS = 2 * 10**7  # batch entries stored by a schedule (GD shares one batch: N + T)
MAX_EDGES = 7  # diagrams with 8 edges never enumerate (hundreds of thousands of classes)
MAX_EDGES_UNFORCED = 6  # 7 edges: 4 s (test) to 20 s (train) CPU, and every later step at order 7 is slow: force
MAX_NOTATION_NODES = 9  # nodes of a diagram written by hand: canonical forms grow factorially (10 nodes: 15 s)
MAX_SAMPLES = 10**7  # sampled data points for estimated diagram values
MAX_STATISTICS_BYTES = 64 * 2**20  # a saved-statistics file read back (JSON, untrusted; ~10x this in memory)
MAX_INPUT_BYTES = 64 * 2**20  # any other JSON file read back: landscape, schedule, plot input, cache entry, report
MAX_LANDSCAPE_POINTS = 10**4  # points of a finite landscape file (each loss is parsed and differentiated)
MAX_EXPRESSION_DEPTH = 12  # nesting of functions (exp, sin, ...) in one loss: derivatives grow exponentially in it
MAX_LR_PARTS = 64  # parts of a learning-rate spec joined by "+"
MAX_MODEL_PARAMETERS = 10**7  # a torch model's parameters (θ and every per-sample gradient are this long)
MAX_STATISTICS_TENSOR_FLOATS = 2 * 10**6  # part cumulants saved for the resummed form (all replications)
MAX_WHATIF_CELLS = 10**5  # cells of a what-if grid (eta values x values of the second axis)
MAX_TRIALS = 10**8  # simulated trials per eta
MAX_SUBSTEPS = 10**4  # SDE/ODE refinement per step
MAX_CHUNK_BYTES = 2 * 2**30  # memory of one vectorized simulation chunk
MAX_SYMBOLIC_DERIVATIVES = 2 * 10**5  # symbolic derivatives of a finite landscape's losses
WORK_BUDGET_SECONDS = 600.0  # soft limit: estimated run time on 2 cores (ten minutes)


def check_work(seconds: float, what: str, remedy: str, force: bool = False) -> None:
    """Refuse a job estimated at ``seconds`` beyond the budget unless ``force``; the message says what to do."""
    if seconds > WORK_BUDGET_SECONDS and not force:
        raise SgdDiagramsError(
            f"{what} would take about {_duration(seconds)} (limit {WORK_BUDGET_SECONDS:.0f} s); {remedy}, "
            "or pass --force (Python: force=True) to run it anyway"
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.2g} days"


def summary() -> str:
    """The limits as one line for ``--help``."""
    return (f"Limits: N, T <= {MAX_N:.0e}; schedule cells <= {MAX_CELLS:.0e}; diagrams <= {MAX_EDGES} edges "
            f"({MAX_EDGES_UNFORCED} without --force); samples <= {MAX_SAMPLES:.0e}; trials <= {MAX_TRIALS:.0e}; "
            f"substeps <= {MAX_SUBSTEPS}; chunk memory <= {MAX_CHUNK_BYTES // 2**30} GiB; jobs estimated over "
            f"{WORK_BUDGET_SECONDS:.0f} s need --force.")
