"""Schedules: which training points each SGD step uses (the grid of seed 001 App. A.2).

A :class:`Schedule` is N training points and a list of T batches.  Its *grid*
is the N×T 0/1 matrix with a 1 where point n is in batch t; the weight of a
shaded cell is ``1/|B_t|`` because step t averages the batch's gradients:

    θ_{t+1} = θ_t − η · (1/|B_t|) Σ_{n∈B_t} ∇l_n(θ_t).

Constructors:

* :func:`sgd` — batch size B dividing N, E epochs; in order, or reshuffled
  every epoch from a seed (``shuffle_seed``);
* :func:`gd` — every point in every batch (B = N) for T steps;
* :func:`from_batches` — any explicit list of batches (sizes may differ).

Schedules are immutable values; :meth:`Schedule.to_json` and
:func:`schedule_from_json` round-trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SgdDiagramsError
from ..limits import MAX_CELLS, MAX_N, MAX_STEPS

__all__ = [
    "Schedule",
    "sgd",
    "gd",
    "is_shuffle_average",
    "require_concrete",
    "sgd_reshuffled",
    "from_batches",
    "schedule_from_json",
    "load_schedule",
    "parse_schedule_spec",
]


@dataclass(frozen=True, eq=True)
class Schedule:
    """N training points and the batch (a tuple of distinct row indices) of each step.

    ``description`` records how the schedule was built (for example
    ``{"N": 10, "B": 2, "E": 3}``); it is informational only: equality and hashing
    use ``N`` and ``batches``.
    """

    N: int
    batches: tuple[tuple[int, ...], ...]
    description: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.N, bool) or not isinstance(self.N, (int, np.integer)) or self.N < 1:
            raise SgdDiagramsError(
                f"schedule N must be a positive integer, got {self.N!r}; set N to the training-set size"
            )
        object.__setattr__(self, "N", int(self.N))
        clean = []
        seen: dict[int, tuple[int, ...]] = {}  # batches shared by identity are validated once
        for t, batch in enumerate(self.batches):
            if id(batch) in seen:
                clean.append(seen[id(batch)])
                continue
            rows = tuple(int(r) for r in batch)
            if not rows:
                raise SgdDiagramsError(
                    f"batch {t} is empty; every step must use at least one training point"
                )
            if len(set(rows)) != len(rows):
                raise SgdDiagramsError(
                    f"batch {t} lists a training point twice ({list(rows)}); list each point once"
                )
            bad = [r for r in rows if r < 0 or r >= self.N]
            if bad:
                raise SgdDiagramsError(
                    f"batch {t} uses point {bad[0]}, outside 0..{self.N - 1}; "
                    f"indices must be below N={self.N}"
                )
            clean.append(tuple(sorted(rows)))
            if isinstance(batch, tuple):
                seen[id(batch)] = clean[-1]
        object.__setattr__(self, "batches", tuple(clean))
        object.__setattr__(self, "_hash", None)

    def __hash__(self) -> int:
        # Cached: hashing T batches of up to N points is O(NT).
        if self._hash is None:
            object.__setattr__(self, "_hash", hash((self.N, self.batches)))
        return self._hash

    # -- basic shape -------------------------------------------------------------
    @property
    def T(self) -> int:
        """Number of SGD steps."""
        return len(self.batches)

    @property
    def batch_sizes(self) -> np.ndarray:
        """|B_t| for every step t."""
        return np.array([len(b) for b in self.batches], dtype=np.int64)

    def grid(self) -> np.ndarray:
        """The N×T 0/1 matrix with a 1 where point n is in batch t (App. A.2)."""
        g = np.zeros((self.N, self.T), dtype=np.int8)
        for t, batch in enumerate(self.batches):
            g[list(batch), t] = 1
        return g

    def cell_weights(self) -> np.ndarray:
        """W[n, t] = 1/|B_t| on shaded cells, 0 elsewhere (the weight of a history's node)."""
        w = np.zeros((self.N, self.T), dtype=np.float64)
        for t, batch in enumerate(self.batches):
            w[list(batch), t] = 1.0 / len(batch)
        return w

    def row_cells(self) -> list[list[tuple[int, float]]]:
        """For every row n, its shaded cells as (t, 1/|B_t|) pairs in time order."""
        rows: list[list[tuple[int, float]]] = [[] for _ in range(self.N)]
        for t, batch in enumerate(self.batches):
            w = 1.0 / len(batch)
            for r in batch:
                rows[r].append((t, w))
        return rows

    def is_gd(self) -> bool:
        """True when every batch is the whole training set."""
        return all(len(b) == self.N for b in self.batches)

    # -- (de)serialisation -------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The explicit form ``{"N": n, "batches": [[...], ...]}``."""
        return {"N": self.N, "batches": [list(b) for b in self.batches]}

    def __repr__(self) -> str:
        desc = ", ".join(f"{k}={v}" for k, v in self.description.items() if k not in ("N", "T"))
        return f"Schedule(N={self.N}, T={self.T}{', ' + desc if desc else ''})"


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise SgdDiagramsError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_size(N: int, T: int, cells: int) -> None:
    """Hard limits on a schedule's size (:mod:`sgd_diagrams.limits`), checked before anything is built."""
    if N > MAX_N:
        raise SgdDiagramsError(f"N={N} training points exceeds the limit {MAX_N:.0e}; use a smaller N")
    if T > MAX_STEPS:
        raise SgdDiagramsError(f"T={T} steps exceeds the limit {MAX_STEPS:.0e}; use fewer epochs or a larger batch")
    if cells > MAX_CELLS:
        raise SgdDiagramsError(
            f"the schedule would store {cells:.3g} batch entries (limit {MAX_CELLS:.0e}); use a smaller N or E"
        )


def sgd(N: int, B: int = 1, E: int = 1, shuffle_seed: int | None = None) -> Schedule:
    """SGD with batch size ``B`` for ``E`` epochs on ``N`` points (T = E·N/B steps).

    Without ``shuffle_seed`` every epoch visits the points in order 0..N−1, so
    batch b of every epoch is {bB, …, bB+B−1}.  With a seed, every epoch uses a
    fresh permutation drawn from ``numpy.random.default_rng(shuffle_seed)``.
    """
    N = _positive_int(N, "N")
    B = _positive_int(B, "B")
    E = _positive_int(E, "E")
    if B > N:
        raise SgdDiagramsError(f"batch size B={B} exceeds N={N}; choose B <= N")
    if N % B:
        raise SgdDiagramsError(
            f"batch size B={B} does not divide N={N}; choose B dividing N or give explicit batches"
        )
    if shuffle_seed is not None and (isinstance(shuffle_seed, bool) or not isinstance(shuffle_seed, (int, np.integer))
                                     or shuffle_seed < 0):
        raise SgdDiagramsError(f"shuffle seed must be a non-negative integer, got {shuffle_seed!r}")
    _check_size(N, E * (N // B), N * E)
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    batches = []
    for _ in range(E):
        order = np.arange(N) if rng is None else rng.permutation(N)
        for b in range(N // B):
            batches.append(tuple(int(x) for x in order[b * B : (b + 1) * B]))
    desc: dict[str, Any] = {"N": N, "B": B, "E": E}
    if shuffle_seed is not None:
        desc["shuffle_seed"] = int(shuffle_seed)
    return Schedule(N, tuple(batches), desc)


def sgd_reshuffled(N: int, B: int = 1, E: int = 1) -> Schedule:
    """SGD reshuffled every epoch, *averaged over the shuffles* — what "SGD with reshuffling" means.

    The theory (Taylor series) uses the exact expectation of every history count over all (N!)^E
    shuffles (:func:`~sgd_diagrams.schedules.shuffles.expected_history_count`) and the simulators draw a
    fresh shuffle of every epoch for every trial; the batches stored are the in-order ones (for shapes
    only), so what needs one concrete grid (resummation, history pictures) refuses this schedule: use
    ``sgd(N, B, E, shuffle_seed)`` there.
    """
    base = sgd(N, B, E)
    return Schedule(base.N, base.batches, {"N": base.N, "B": int(B), "E": int(E), "shuffle": "average"})


def is_shuffle_average(schedule: Schedule) -> bool:
    """True for :func:`sgd_reshuffled` schedules (counts are expectations over shuffles)."""
    return schedule.description.get("shuffle") == "average"


def require_concrete(schedule: Schedule, what: str) -> None:
    """One-line refusal when ``what`` needs one concrete grid but ``schedule`` is a shuffle average."""
    if is_shuffle_average(schedule):
        raise SgdDiagramsError(
            f"{what} needs one concrete grid, but this schedule averages over reshuffles; use "
            "sgd:N=..,B=..,E=..,seed=S (one fixed shuffle) there, or the Taylor form"
        )


def gd(N: int, T: int) -> Schedule:
    """Full-batch gradient descent: every one of the ``T`` steps uses all ``N`` points."""
    N = _positive_int(N, "N")
    T = _positive_int(T, "T")
    _check_size(N, T, N + T)
    everyone = tuple(range(N))  # one shared tuple: memory O(N + T), not O(NT)
    return Schedule(N, (everyone,) * T, {"N": N, "T": T, "gd": True})


def from_batches(N: int, batches: Iterable[Sequence[int]]) -> Schedule:
    """A schedule from an explicit list of batches (sizes may differ)."""
    N = _positive_int(N, "N")
    _check_size(N, 0, 0)
    blist = []
    cells = 0
    for b in batches:
        blist.append(tuple(b))
        cells += len(blist[-1])
        if len(blist) > MAX_STEPS or cells > MAX_CELLS:
            _check_size(N, len(blist), cells)
    return Schedule(N, tuple(blist), {"N": N, "explicit": True})


def schedule_from_json(obj: Any) -> Schedule:
    """Build a schedule from its JSON form.

    Accepted forms: ``{"N": n, "batches": [[...], ...]}``,
    ``{"N": n, "B": b, "E": e}`` with optional ``"shuffle_seed"``, and
    ``{"N": n, "T": t, "gd": true}``.
    """
    if not isinstance(obj, dict):
        raise SgdDiagramsError(
            'schedule JSON must be an object like {"N": 10, "B": 1, "E": 1} or {"N": 3, "batches": [[0], [1]]}'
        )
    if "N" not in obj:
        raise SgdDiagramsError('schedule JSON needs "N", the number of training points')
    if "batches" in obj:
        extra = sorted(set(obj) - {"N", "batches"})
        if extra:
            raise SgdDiagramsError(f'an explicit schedule is {{"N": n, "batches": [...]}}; drop {extra}')
        batches = obj["batches"]
        if not isinstance(batches, list) or not all(isinstance(b, list) for b in batches):
            raise SgdDiagramsError('"batches" must be a list of lists of point indices')
        for b in batches:
            for x in b:
                if isinstance(x, bool) or not isinstance(x, int):
                    raise SgdDiagramsError(f"batch entries must be integers, got {x!r}")
        if not batches:
            raise SgdDiagramsError('"batches" is empty; give at least one batch')
        return from_batches(obj["N"], batches)
    if "gd" in obj and not isinstance(obj["gd"], bool):
        raise SgdDiagramsError(f'"gd" must be true or false, got {obj["gd"]!r}')
    if obj.get("gd"):
        unknown = set(obj) - {"N", "T", "gd"}
        if unknown or "T" not in obj:
            raise SgdDiagramsError('a GD schedule is {"N": n, "T": t, "gd": true} (no other keys)')
        return gd(obj["N"], obj["T"])
    if "T" in obj:
        raise SgdDiagramsError('"T" is only for GD: add "gd": true, or give SGD as {"N": n, "B": b, "E": e}')
    unknown = set(obj) - {"N", "B", "E", "shuffle_seed", "shuffle", "T", "gd"}
    if unknown:
        raise SgdDiagramsError(f"unknown schedule keys {sorted(unknown)}; use N, B, E, shuffle_seed or shuffle")
    if "shuffle" in obj:
        if obj["shuffle"] != "average" or "shuffle_seed" in obj:
            raise SgdDiagramsError('"shuffle" may only be "average" (expectation over reshuffles), without a seed')
        return sgd_reshuffled(obj["N"], obj.get("B", 1), obj.get("E", 1))
    seed = obj.get("shuffle_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SgdDiagramsError(f"shuffle_seed must be an integer, got {seed!r}")
    return sgd(obj["N"], obj.get("B", 1), obj.get("E", 1), seed)


def load_schedule(path: str | Path) -> Schedule:
    """Read a schedule JSON file (see :func:`schedule_from_json`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SgdDiagramsError(f"cannot read schedule file {p}: {exc.strerror}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SgdDiagramsError(
            f"schedule file {p} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    return schedule_from_json(obj)


def parse_schedule_spec(spec: str) -> Schedule:
    """Parse a compact spec: ``sgd:N=10,B=1,E=1[,seed=0]`` or ``gd:N=10,T=5``."""
    kind, _, rest = spec.partition(":")
    params: dict[str, int] = {}
    average = False
    for item in filter(None, rest.split(",")):
        key, eq, val = item.partition("=")
        if not eq:
            raise SgdDiagramsError(f"bad schedule spec item {item!r}; write key=value, e.g. sgd:N=10,B=1,E=1")
        if key.strip() == "seed" and val.strip() == "average":
            average = True
            continue
        try:
            params[key.strip()] = int(val)
        except ValueError:
            raise SgdDiagramsError(f"schedule spec value {val!r} for {key} is not an integer") from None
    kind = kind.strip().lower()
    if kind == "sgd":
        unknown = set(params) - {"N", "B", "E", "seed"}
        if unknown or "N" not in params:
            raise SgdDiagramsError("sgd spec takes N (required), B, E, seed, e.g. sgd:N=10,B=1,E=1")
        if average:
            if "seed" in params:
                raise SgdDiagramsError("give seed=S (one fixed shuffle) or seed=average, not both")
            return sgd_reshuffled(params["N"], params.get("B", 1), params.get("E", 1))
        return sgd(params["N"], params.get("B", 1), params.get("E", 1), params.get("seed"))
    if kind == "gd":
        if set(params) != {"N", "T"}:
            raise SgdDiagramsError("gd spec takes N and T, e.g. gd:N=10,T=5")
        return gd(params["N"], params["T"])
    raise SgdDiagramsError(f"unknown schedule kind {kind!r}; use sgd:N=..,B=..,E=.. or gd:N=..,T=..")
