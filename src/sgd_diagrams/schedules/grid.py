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

A schedule may also carry per-step learning-rate multipliers ``lr = (m_0, …, m_{T−1})`` (step t
uses η·m_t) and a heavy-ball momentum ``momentum = β`` (PyTorch's convention: buf ← β·buf + g_t,
θ ← θ − η·m_t·buf, buf = 0 before step 0); build them with :meth:`Schedule.with_lr` (multipliers
from :func:`lr_schedule`, e.g. ``"warmup:5+cosine"``) and :meth:`Schedule.with_momentum`.  Every
consumer of a schedule (series, resummation, variance, simulation, pictures) honours both.

Schedules are immutable values; :meth:`Schedule.to_json` and
:func:`schedule_from_json` round-trip.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SgdDiagramsError
from ..io import read_untrusted_json
from ..limits import MAX_CELLS, MAX_INPUT_BYTES, MAX_LR_PARTS, MAX_N, MAX_STEPS

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
    "lr_schedule",
    "LR_SCHEDULE_HELP",
]


@dataclass(frozen=True, eq=True)
class Schedule:
    """N training points and the batch (a tuple of distinct row indices) of each step.

    ``description`` records how the schedule was built (for example
    ``{"N": 10, "B": 2, "E": 3}``); it is informational only: equality and hashing
    use ``N``, ``batches``, ``lr`` and ``momentum``.

    ``lr`` (None, or T finite non-negative multipliers, not all zero): step t uses η·m_t.
    ``momentum`` β ∈ [0, 1): heavy ball in PyTorch's convention, buf ← β·buf + g_t,
    θ ← θ − η·m_t·buf.  A gradient read at step s then moves θ_u (u > s) by
    K(s, u) = η Σ_{t=s}^{u−1} m_t β^{t−s}, the weight of a history's edge (docs/momentum.md).
    """

    N: int
    batches: tuple[tuple[int, ...], ...]
    description: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    lr: tuple[float, ...] | None = None
    momentum: float = 0.0

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
            try:
                rows = tuple(batch)
            except TypeError:
                raise SgdDiagramsError(f"batch {t} must be a list of row indices, got {type(batch).__name__}") from None
            if not all(type(r) is int for r in rows):  # fast path for plain ints; then the exact rule
                if any(isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)) for r in rows):
                    r = next(r for r in rows if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)))
                    raise SgdDiagramsError(f"batch {t} holds {type(r).__name__} {str(r)[:20]!r}; row indices must be "
                                           "integers 0..N-1")
                rows = tuple(int(r) for r in rows)
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
        object.__setattr__(self, "lr", _check_lr(self.lr, len(clean)))
        object.__setattr__(self, "momentum", _check_momentum(self.momentum))
        object.__setattr__(self, "_hash", None)

    def __hash__(self) -> int:
        # Cached: hashing T batches of up to N points is O(NT).
        if self._hash is None:
            object.__setattr__(self, "_hash", hash((self.N, self.batches, self.lr, self.momentum)))
        return self._hash

    # -- learning-rate multipliers and momentum ------------------------------------
    @property
    def plain(self) -> bool:
        """True for plain constant-η SGD: no ``lr`` multipliers and no momentum."""
        return self.lr is None and self.momentum == 0.0

    def lr_multipliers(self) -> np.ndarray:
        """m_t for every step (ones without ``lr``), float64 of length T."""
        return np.ones(self.T) if self.lr is None else np.array(self.lr, dtype=np.float64)

    def with_lr(self, multipliers: Sequence[float] | str | None) -> Schedule:
        """This schedule with per-step multipliers m_t (step t uses η·m_t); a string is parsed by
        :func:`lr_schedule`; None or all ones removes them."""
        if isinstance(multipliers, str):
            multipliers = lr_schedule(multipliers, self.T)
        lr = _check_lr(multipliers, self.T)
        if lr is not None and all(m == 1.0 for m in lr):
            lr = None
        return Schedule(self.N, self.batches, dict(self.description), lr, self.momentum)

    def with_momentum(self, beta: float) -> Schedule:
        """This schedule with heavy-ball momentum β ∈ [0, 1) (PyTorch convention)."""
        return Schedule(self.N, self.batches, dict(self.description), self.lr, _check_momentum(beta))

    def edge_kernel(self) -> np.ndarray:
        """k[s, u] = K(s, u)/η = Σ_{t=s}^{u−1} m_t β^{t−s} for 0 ≤ s < u ≤ T (0 elsewhere), (T, T+1).

        The weight of a history's edge from a node at step s to its parent at step u (the root at
        u = T): θ_u = θ_0 − η Σ_{s<u} k[s, u] g_s(θ_s).  O(T²) memory: for tests and small T.
        """
        T = self.T
        m = self.lr_multipliers()
        beta = self.momentum
        k = np.zeros((T, T + 1))
        for s in range(T):
            acc = 0.0
            power = 1.0
            for u in range(s + 1, T + 1):
                acc += m[u - 1] * power
                power *= beta
                k[s, u] = acc
        return k

    def prefix(self, steps: int) -> Schedule:
        """The schedule truncated after its first ``steps`` steps: the same N training points, batches,
        lr multipliers and momentum up to step ``steps`` (the root of every history then sits at ``steps``).

        A training curve's value at step t is the prediction on ``schedule.prefix(t)`` (seed 001 App. A.2:
        a prefix of a grid is a grid).  GD stays GD; a shuffle average has no concrete prefix and is refused.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= self.T:
            raise SgdDiagramsError(f"a prefix must keep 0..{self.T} steps, got {steps!r}")
        require_concrete(self, "a truncated schedule (a curve's step)")
        steps = int(steps)
        if self.description.get("gd") is True and self.is_gd():
            desc: dict[str, Any] = {"N": self.N, "T": steps, "gd": True}
        else:
            desc = {"N": self.N, "explicit": True}
        lr = None if self.lr is None or steps == 0 else self.lr[:steps]
        # The batches, multipliers and momentum were validated when this schedule was built: a prefix reuses
        # them without re-checking (O(1) instead of O(cells) per step of a curve).  A warm-up prefix whose
        # multipliers are all 0 (nothing has moved yet) is kept, not refused.
        out = object.__new__(Schedule)
        for name, value in (("N", self.N), ("batches", self.batches[:steps]), ("description", desc), ("lr", lr),
                            ("momentum", self.momentum), ("_hash", None)):
            object.__setattr__(out, name, value)
        return out

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
        """The explicit form ``{"N": n, "batches": [[...], ...]}`` (plus ``"lr"`` and ``"momentum"`` if set)."""
        out: dict[str, Any] = {"N": self.N, "batches": [list(b) for b in self.batches]}
        out.update(self._extras_json())
        return out

    def _extras_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.lr is not None:
            out["lr"] = list(self.lr)
        if self.momentum:
            out["momentum"] = self.momentum
        return out

    def __repr__(self) -> str:
        desc = ", ".join(f"{k}={v}" for k, v in self.description.items() if k not in ("N", "T"))
        extra = ""
        if self.lr is not None:
            extra += f", lr=[{self.lr[0]:g}..{self.lr[-1]:g}]"
        if self.momentum:
            extra += f", momentum={self.momentum:g}"
        return f"Schedule(N={self.N}, T={self.T}{', ' + desc if desc else ''}{extra})"


def _check_lr(lr: Any, T: int) -> tuple[float, ...] | None:
    """``lr`` as a tuple of T floats (finite, ≥ 0, not all 0), or None; one-line errors otherwise."""
    if lr is None:
        return None
    if isinstance(lr, (str, bytes)) or not isinstance(lr, (Sequence, np.ndarray)):
        raise SgdDiagramsError(f"lr multipliers must be a list of {T} numbers (one per step), got {type(lr).__name__}")
    values = []
    for t, x in enumerate(lr):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise SgdDiagramsError(f"lr multiplier {t} must be a number, got {x!r}")
        x = float(x)
        if not math.isfinite(x) or x < 0:
            raise SgdDiagramsError(f"lr multiplier {t} must be finite and >= 0, got {x!r}")
        values.append(x)
    if len(values) != T:
        raise SgdDiagramsError(f"lr has {len(values)} multipliers but the schedule has T={T} steps; give one per step")
    if T and not any(values):
        raise SgdDiagramsError("every lr multiplier is 0, so training never moves; give some positive multiplier")
    return tuple(values)


def _check_momentum(beta: Any) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise SgdDiagramsError(f"momentum must be a number in [0, 1), got {beta!r}")
    beta = float(beta)
    if not (0.0 <= beta < 1.0):
        raise SgdDiagramsError(f"momentum beta must lie in [0, 1), got {beta!r}")
    return beta


LR_SCHEDULE_HELP = (
    "per-step learning-rate multipliers m_t (step t uses eta*m_t): 'constant'; 'cosine' or 'cosine:FLOOR' "
    "(m_t = FLOOR + (1-FLOOR)(1+cos(pi t/T))/2); 'warmup:K' (m_t = (t+1)/K for t < K, then 1); "
    "'step:F@S[,F@S...]' (multiply by F from step S on); 'linear' or 'linear:END' (1 down to END at the last "
    "step); join parts with '+' to multiply them, e.g. 'warmup:5+cosine'"
)


def _lr_part(part: str, T: int) -> np.ndarray:
    name, _, arg = part.strip().partition(":")
    name = name.strip().lower()
    t = np.arange(T, dtype=np.float64)

    def number(text: str, what: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise SgdDiagramsError(f"lr schedule {part!r}: {what} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise SgdDiagramsError(f"lr schedule {part!r}: {what} must be finite")
        return value

    def integer(text: str, what: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise SgdDiagramsError(f"lr schedule {part!r}: {what} {text!r} is not an integer") from None
        if value < 0:
            raise SgdDiagramsError(f"lr schedule {part!r}: {what} must be >= 0")
        return value

    if name == "constant":
        if arg:
            raise SgdDiagramsError("lr schedule 'constant' takes no argument (scale eta instead)")
        return np.ones(T)
    if name == "cosine":
        floor = number(arg, "floor") if arg else 0.0
        if not 0.0 <= floor <= 1.0:
            raise SgdDiagramsError(f"lr schedule {part!r}: the cosine floor must lie in [0, 1]")
        return floor + (1.0 - floor) * 0.5 * (1.0 + np.cos(np.pi * t / max(T, 1)))
    if name == "linear":
        end = number(arg, "end value") if arg else 0.0
        if end < 0:
            raise SgdDiagramsError(f"lr schedule {part!r}: the end value must be >= 0")
        return 1.0 + (end - 1.0) * t / max(T - 1, 1)
    if name == "warmup":
        if not arg:
            raise SgdDiagramsError("lr schedule 'warmup' needs its length, e.g. warmup:5")
        K = integer(arg, "warm-up length")
        return np.minimum(1.0, (t + 1.0) / K) if K else np.ones(T)
    if name == "step":
        if not arg:
            raise SgdDiagramsError("lr schedule 'step' needs FACTOR@STEP, e.g. step:0.1@20 or step:0.5@10,0.5@20")
        out = np.ones(T)
        for item in arg.split(","):
            factor, at, step = item.partition("@")
            if not at:
                raise SgdDiagramsError(f"lr schedule {part!r}: write FACTOR@STEP, e.g. step:0.1@20")
            f = number(factor, "factor")
            if f < 0:
                raise SgdDiagramsError(f"lr schedule {part!r}: factors must be >= 0")
            at_step = integer(step, "step")
            if at_step >= T:
                warnings.warn(f"lr schedule {part!r}: step {at_step} is not before the last step (T={T}); "
                              "that factor changes nothing", RuntimeWarning, stacklevel=3)
            out[at_step:] *= f
        return out
    raise SgdDiagramsError(
        f"unknown lr schedule {name!r}; use constant, cosine[:FLOOR], linear[:END], warmup:K or step:F@S, "
        "joined by '+', e.g. warmup:5+cosine"
    )


def lr_schedule(spec: str, T: int) -> tuple[float, ...]:
    """Per-step multipliers (m_0, …, m_{T−1}) from a spec (step t uses η·m_t).

    Parts (joined by ``+`` to multiply them, e.g. ``warmup:5+cosine``):

    * ``constant`` — m_t = 1;
    * ``cosine`` / ``cosine:FLOOR`` — m_t = FLOOR + (1 − FLOOR)·(1 + cos(π t/T))/2 (FLOOR ∈ [0, 1], default 0);
    * ``linear`` / ``linear:END`` — from 1 at t = 0 linearly to END at t = T − 1 (default 0);
    * ``warmup:K`` — m_t = (t + 1)/K for t < K, then 1 (linear warm-up over K steps);
    * ``step:F@S[,F@S…]`` — multiply by F from step S on (e.g. ``step:0.1@20,0.1@40``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SgdDiagramsError(f"an lr schedule is a non-empty string like 'cosine' or 'warmup:5+cosine', got {spec!r}")
    T = _positive_int(T, "T")
    parts = spec.split("+")
    items = len(parts) + spec.count(",")  # each part and each step item costs O(T): bounded before any work
    if items > MAX_LR_PARTS:
        raise SgdDiagramsError(f"lr schedule has {items} parts and step items (limit {MAX_LR_PARTS}); combine them, "
                               "e.g. step:0.1@20,0.1@40 or warmup:5+cosine")
    out = np.ones(T)
    for part in parts:
        if not part.strip():
            raise SgdDiagramsError(f"lr schedule {spec[:60]!r} has an empty part; join parts with a single '+'")
        with np.errstate(all="ignore"):  # overflow (linear:1e308) gives inf, refused by _check_lr in one line
            out = out * _lr_part(part, T)
    result = _check_lr([float(x) for x in out], T)
    assert result is not None
    return result


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
    if isinstance(batches, (str, bytes)):
        raise SgdDiagramsError("batches must be a list of lists of row indices, e.g. [[0, 1], [2, 3]]")
    try:
        iterator = iter(batches)
    except TypeError:
        raise SgdDiagramsError("batches must be a list of lists of row indices, e.g. [[0, 1], [2, 3]]") from None
    for t, b in enumerate(iterator):
        if isinstance(b, (str, bytes)) or not hasattr(b, "__iter__"):
            raise SgdDiagramsError(f"batch {t} must be a list of row indices, got {type(b).__name__}")
        blist.append(tuple(b))
        cells += len(blist[-1])
        if len(blist) > MAX_STEPS or cells > MAX_CELLS:
            _check_size(N, len(blist), cells)
    return Schedule(N, tuple(blist), {"N": N, "explicit": True})


def schedule_from_json(obj: Any) -> Schedule:
    """Build a schedule from its JSON form.

    Accepted forms: ``{"N": n, "batches": [[...], ...]}``,
    ``{"N": n, "B": b, "E": e}`` with optional ``"shuffle_seed"``, and
    ``{"N": n, "T": t, "gd": true}``; each may add ``"lr": [m_0, …, m_{T−1}]`` (step t uses
    η·m_t) and ``"momentum": β`` (heavy ball, 0 ≤ β < 1).
    """
    if not isinstance(obj, dict):
        raise SgdDiagramsError(
            'schedule JSON must be an object like {"N": 10, "B": 1, "E": 1} or {"N": 3, "batches": [[0], [1]]}'
        )
    if "N" not in obj:
        raise SgdDiagramsError('schedule JSON needs "N", the number of training points')
    if "lr" in obj or "momentum" in obj:
        rest = {k: v for k, v in obj.items() if k not in ("lr", "momentum")}
        base = schedule_from_json(rest)
        lr = obj.get("lr")
        if lr is not None and not isinstance(lr, list):
            raise SgdDiagramsError(f'"lr" must be a list of {base.T} numbers (one multiplier per step)')
        momentum = obj.get("momentum", 0.0)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise SgdDiagramsError(f'"momentum" must be a number in [0, 1), got {momentum!r}')
        return Schedule(base.N, base.batches, dict(base.description), _check_lr(lr, base.T), momentum)
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
    obj = read_untrusted_json(Path(path), what="schedule", max_bytes=MAX_INPUT_BYTES)
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
        if key.strip() in params or (key.strip() == "seed" and average):
            raise SgdDiagramsError(f"schedule spec gives {key.strip()} twice ({spec[:60]!r}); give each key once")
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
