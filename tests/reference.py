"""Brute-force references the engine is tested against.

* :func:`brute_history_count` — enumerate every labelled map of a diagram's
  non-root nodes to shaded cells (T^d of them) and check the definition.
* :func:`brute_series` — the Key Lemma's ground truth: enumerate every
  training sequence of a finite landscape, run SGD (with the schedule's lr
  multipliers and heavy-ball momentum, if any) on truncated power series
  in η (a "jet" arithmetic implementing + − × ÷ ** exp log sin cos tanh sqrt),
  and average.  It shares no code with the diagram engine: losses are
  evaluated directly from their sympy expressions.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from sgd_diagrams.diagrams import Diagram
from sgd_diagrams.schedules import Schedule


def brute_history_count(d: Diagram, schedule: Schedule) -> Fraction:
    """Σ over labelled maps of Π weights, divided by |Aut(D)| (exact)."""
    cells = [(n, t) for t, batch in enumerate(schedule.batches) for n in batch]
    sizes = schedule.batch_sizes
    m = d.n_edges
    total = Fraction(0)
    root_shared = not d.root_alone
    rows_for_root = range(schedule.N) if root_shared else [None]
    for assignment in itertools.product(cells, repeat=m):
        place = {0: None}
        ok = True
        for v in range(1, m + 1):
            place[v] = assignment[v - 1]
        for v in range(1, m + 1):
            p = d.parents[v]
            if p != 0 and not place[v][1] < place[p][1]:
                ok = False
                break
        if not ok:
            continue
        w = Fraction(1)
        for v in range(1, m + 1):
            w *= Fraction(1, int(sizes[place[v][1]]))
        for root_row in rows_for_root:
            good = True
            for u in range(1, m + 1):
                for v in range(u + 1, m + 1):
                    if d.parts[u] == d.parts[v] and place[u][0] != place[v][0]:
                        good = False
                if root_shared and d.parts[u] == d.parts[0] and place[u][0] != root_row:
                    good = False
            if good:
                total += w / (schedule.N if root_shared else 1)
    return total / d.automorphisms


# -- truncated power series ("jets") in η ---------------------------------------------
class Jet:
    """A truncated power series Σ_{k≤order} c_k η^k with float coefficients."""

    __array_priority__ = 1000

    def __init__(self, coeffs):
        self.c = np.asarray(coeffs, dtype=np.float64)

    @property
    def order(self):
        return len(self.c) - 1

    @staticmethod
    def const(x, order):
        c = np.zeros(order + 1)
        c[0] = x
        return Jet(c)

    def _lift(self, other):
        return other if isinstance(other, Jet) else Jet.const(float(other), self.order)

    def __add__(self, o):
        return Jet(self.c + self._lift(o).c)

    __radd__ = __add__

    def __neg__(self):
        return Jet(-self.c)

    def __sub__(self, o):
        return Jet(self.c - self._lift(o).c)

    def __rsub__(self, o):
        return Jet(self._lift(o).c - self.c)

    def __mul__(self, o):
        o = self._lift(o)
        return Jet(np.convolve(self.c, o.c)[: self.order + 1])

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = self._lift(o)
        return self * o.reciprocal()

    def __rtruediv__(self, o):
        return self._lift(o) * self.reciprocal()

    def reciprocal(self):
        a = self.c
        b = np.zeros_like(a)
        b[0] = 1.0 / a[0]
        for k in range(1, len(a)):
            b[k] = -sum(a[j] * b[k - j] for j in range(1, k + 1)) / a[0]
        return Jet(b)

    def __pow__(self, p):
        if isinstance(p, Jet):
            return (p * self.log()).exp()
        p = float(p)
        if p.is_integer() and p >= 0:
            out = Jet.const(1.0, self.order)
            for _ in range(int(p)):
                out = out * self
            return out
        if p.is_integer():
            return (self ** (-p)).reciprocal()
        return (self.log() * p).exp()

    def __rpow__(self, base):
        return (self * float(np.log(base))).exp()

    def exp(self):
        a = self.c
        b = np.zeros_like(a)
        b[0] = np.exp(a[0])
        for k in range(1, len(a)):
            b[k] = sum(j * a[j] * b[k - j] for j in range(1, k + 1)) / k
        return Jet(b)

    def log(self):
        a = self.c
        b = np.zeros_like(a)
        b[0] = np.log(a[0])
        for k in range(1, len(a)):
            b[k] = (a[k] - sum(j * b[j] * a[k - j] for j in range(1, k)) / k) / a[0]
        return Jet(b)

    def sincos(self):
        a = self.c
        s = np.zeros_like(a)
        c = np.zeros_like(a)
        s[0], c[0] = np.sin(a[0]), np.cos(a[0])
        for k in range(1, len(a)):
            s[k] = sum(j * a[j] * c[k - j] for j in range(1, k + 1)) / k
            c[k] = -sum(j * a[j] * s[k - j] for j in range(1, k + 1)) / k
        return Jet(s), Jet(c)

    def sin(self):
        return self.sincos()[0]

    def cos(self):
        return self.sincos()[1]

    def tanh(self):
        e2 = (self * 2.0).exp()
        return (e2 - 1.0) / (e2 + 1.0)

    def sqrt(self):
        return self ** 0.5


_JET_MODULE = {
    "exp": lambda x: x.exp() if isinstance(x, Jet) else np.exp(x),
    "log": lambda x: x.log() if isinstance(x, Jet) else np.log(x),
    "sin": lambda x: x.sin() if isinstance(x, Jet) else np.sin(x),
    "cos": lambda x: x.cos() if isinstance(x, Jet) else np.cos(x),
    "tanh": lambda x: x.tanh() if isinstance(x, Jet) else np.tanh(x),
    "sqrt": lambda x: x.sqrt() if isinstance(x, Jet) else np.sqrt(x),
    "pi": np.pi,
    "E": np.e,
}


def _jet_functions(landscape):
    syms = landscape.symbols
    losses = [sp.lambdify(syms, l, modules=[_JET_MODULE]) for l in landscape.losses]
    grads = [[sp.lambdify(syms, sp.diff(l, s), modules=[_JET_MODULE]) for s in syms] for l in landscape.losses]
    return losses, grads


def brute_series(landscape, schedule: Schedule, order: int, metric=None):
    """Exact Taylor coefficients of E[test loss, train loss, gen gap, displacement] by enumeration.

    Returns a dict of arrays: scalars have shape (order+1,), displacement (order+1, dim).
    """
    losses, grads = _jet_functions(landscape)
    dim = landscape.dim
    eta = np.eye(dim) if metric is None else np.asarray(metric, dtype=np.float64)
    K = landscape.n_points
    N = schedule.N
    out = {"test-loss": np.zeros(order + 1), "train-loss": np.zeros(order + 1),
           "test-loss-squared": np.zeros(order + 1),
           "displacement": np.zeros((order + 1, dim))}
    eta_jet = np.zeros(order + 1)
    if order >= 1:
        eta_jet[1] = 1.0
    eta_jet = Jet(eta_jet)

    def as_jet(x):
        return x if isinstance(x, Jet) else Jet.const(float(x), order)

    lr = schedule.lr if getattr(schedule, "lr", None) is not None else (1.0,) * schedule.T
    beta = float(getattr(schedule, "momentum", 0.0))
    for seq in itertools.product(range(K), repeat=N):
        prob = float(np.prod([landscape.probs[j] for j in seq]))
        theta = [Jet.const(float(x), order) for x in landscape.init]
        buf = [Jet.const(0.0, order) for _ in range(dim)]  # heavy ball: buf <- beta*buf + g, theta -= eta*m_t*buf
        for t, batch in enumerate(schedule.batches):
            g = [Jet.const(0.0, order) for _ in range(dim)]
            for n in batch:
                j = seq[n]
                for a in range(dim):
                    g[a] = g[a] + as_jet(grads[j][a](*theta))
            g = [ga / float(len(batch)) for ga in g]
            buf = [buf[a] * beta + g[a] for a in range(dim)]
            step = [sum((buf[b] * float(eta[a, b]) for b in range(dim)), Jet.const(0.0, order)) for a in range(dim)]
            theta = [theta[a] - eta_jet * float(lr[t]) * step[a] for a in range(dim)]
        test = sum((as_jet(losses[j](*theta)) * float(landscape.probs[j]) for j in range(K)), Jet.const(0.0, order))
        train = sum((as_jet(losses[seq[n]](*theta)) for n in range(N)), Jet.const(0.0, order)) / float(N)
        out["test-loss"] += prob * test.c
        out["test-loss-squared"] += prob * (test * test).c
        out["train-loss"] += prob * train.c
        for a in range(dim):
            out["displacement"][:, a] += prob * (theta[a] - float(landscape.init[a])).c
    out["gen-gap"] = out["test-loss"] - out["train-loss"]
    return out


# -- an independent oracle for the closed-form counts: exact interpolation of exact sweeps ---------------
def _count_structure(d: Diagram) -> tuple[int, int, int]:
    """(m, k, s): non-root nodes, tied parts (≥ 2 non-root nodes), nodes in tied parts."""
    sizes: dict[int, int] = {}
    for v in range(1, d.n_nodes):
        sizes[d.parts[v]] = sizes.get(d.parts[v], 0) + 1
    tied = [c for c in sizes.values() if c >= 2]
    return d.n_edges, len(tied), sum(tied)


def fitted_count_polynomial(d: Diagram, family: str) -> tuple[tuple[tuple[int, ...], Fraction], ...]:
    """count(D) as ((exponents of N, B, E | N, T), coefficient) monomials, fitted from exact sweeps.

    The fit the package used before it derived the counts (seed 001 Prop 2's degree argument): count =
    B^{k−s}·P(N/B, E) (resp. N^{k−s}·P(T)), divided by N for a train root sharing its part; P is
    interpolated exactly over the rationals on the grid the degrees require, then checked off that grid.
    """
    from sgd_diagrams.schedules import gd, sgd
    from sgd_diagrams.schedules.histories import history_count
    from sgd_diagrams.theory.interpolation import check_polynomial, fit_polynomial

    def scaled(schedule: Schedule) -> Fraction:
        c = Fraction(history_count(d, schedule, exact=True))
        return c * schedule.N if not d.root_alone else c

    m, k, s = _count_structure(d)
    if family == "sgd":  # variables M = N/B, E, u = 1/B
        def f(M, Ee, u):
            b = int(1 / Fraction(u))
            return scaled(sgd(int(M) * b, b, int(Ee)))
        boxes = [[(0, m - s + k), (0, m), (s - k, s - k)], [(0, m), (0, m), (0, m)]]
    else:  # variables T, u = 1/N
        def f(Tt, u):
            return scaled(gd(int(1 / Fraction(u)), int(Tt)))
        boxes = [[(0, m), (s - k, s - k)], [(0, m), (0, m)]]

    def nodes(rng, reciprocal):
        lo, hi = rng
        return [Fraction(1, p) if reciprocal else Fraction(p) for p in range(1, hi - lo + 2)]

    for box in boxes:
        recip = [False, False, True] if family == "sgd" else [False, True]
        poly = fit_polynomial(f, [nodes(r, q) for r, q in zip(box, recip, strict=True)], box)
        if family == "sgd":
            (_, hm), (_, he), (lu, hu) = box
            raw = [(hm + 2, he + 3, hu - lu + 2), (hm + 4, 1, hu - lu + 3), (2, he + 2, hu - lu + 4)]
            points = [[Fraction(a), Fraction(e), Fraction(1, b)] for a, e, b in raw]
        else:
            (_, ht), (lu, hu) = box
            raw = [(ht + 2, hu - lu + 2), (ht + 4, 1), (1, hu - lu + 3), (ht + 3, hu - lu + 4)]
            points = [[Fraction(t), Fraction(1, n)] for t, n in raw]
        if check_polynomial(poly, f, points):
            break
    else:
        raise AssertionError(f"no verified fit for {d} under {family}")
    shared = 0 if d.root_alone else 1
    out: dict[tuple[int, ...], Fraction] = {}
    for exps, c in poly.items():
        if family == "sgd":  # (N/B)^i E^j B^{-l} / N^shared
            i, j, l = exps
            key = (i - shared, -i - l, j)
        else:  # T^i N^{-l} / N^shared
            i, l = exps
            key = (-l - shared, i)
        out[key] = out.get(key, Fraction(0)) + c
    return tuple(sorted((e, c) for e, c in out.items() if c != 0))
