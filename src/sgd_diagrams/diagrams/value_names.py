"""Readable names for diagram values, in the index notation of seed 001 (Prop 2, Fig. 8).

The paper writes diagram values with named tensors and η raising indices:
``G_μ G^μ`` for the one-edged diagram, ``G_μ H^μ_ν G^ν``, ``C_{μν} H^{μν}``,
``(∇_μ C^ν_ν) G^μ / 2`` (seed 001 Prop 2).  We generate such names from the
diagram itself (seed 001 Def. 3, App. A.4):

* every edge carries one Greek index, lower at the parent, upper at the child
  (an upper index means "contracted through η");
* a part with a single node of degree k is the named mean tensor
  ``l, G, H, J`` for k = 0, 1, 2, 3 (``∇^k l`` beyond);
* a part of degree-one nodes is the gradient covariance ``C`` (two nodes) or
  third cumulant ``S`` (three nodes);
* a part {v, w} whose leaf w hangs from v (v of degree 2) is the trace
  gradient of the trace of C, seed 001 Prop 2's ``(∇_μ C^ν_ν)/2``: ``½ (∇^μ C^ν_ν)``;
* any other part is the joint cumulant ``⟨∇^μ∇_ν l, ∇^ν l, …⟩`` of its
  nodes' derivatives.

For a displacement root (s(θ) = θ − θ0) the root contributes no tensor and
its edge's index stays free.  Names are produced for diagrams with at most
three edges; larger diagrams fall back to ``uvalue[<notation>]``.
"""

from __future__ import annotations

from .diagram import Diagram

__all__ = ["value_name", "value_latex", "MAX_NAMED_EDGES"]

MAX_NAMED_EDGES = 3
_INDICES = "μνρσλκ"
_LATEX = {
    "μ": r"\mu", "ν": r"\nu", "ρ": r"\rho", "σ": r"\sigma", "λ": r"\lambda", "κ": r"\kappa",
    "∇": r"\nabla", "⟨": r"\langle ", "⟩": r"\rangle ", "½": r"\tfrac{1}{2}",
}
_MEANS = {0: "l", 1: "G", 2: "H", 3: "J"}
_GRADIENT_CUMULANTS = {2: "C", 3: "S"}


def _indexed(symbol: str, upper: str, lower: str) -> str:
    def group(idx: str) -> str:
        return idx if len(idx) == 1 else "{" + idx + "}"

    out = symbol
    if upper:
        out += "^" + group(upper)
    if lower:
        out += "_" + group(lower)
    return out


def _slots(d: Diagram, v: int) -> tuple[str, str]:
    """(upper, lower) indices of node v: its parent edge upper, its child edges lower."""
    upper = "" if v == 0 else _INDICES[v - 1]
    lower = "".join(_INDICES[c - 1] for c in d.children[v])
    return upper, lower


def _part_tensor(d: Diagram, members: tuple[int, ...]) -> tuple[str, bool]:
    """The tensor of one part and whether it carries a factor ½."""
    if len(members) == 1:
        v = members[0]
        up, low = _slots(d, v)
        k = d.degree(v)
        return _indexed(_MEANS.get(k, f"∇{k}l"), up, low), False
    degrees = [d.degree(v) for v in members]
    if all(k == 1 for k in degrees) and len(members) in _GRADIENT_CUMULANTS:
        ups = "".join(_slots(d, v)[0] for v in members)
        lows = "".join(_slots(d, v)[1] for v in members)
        return _indexed(_GRADIENT_CUMULANTS[len(members)], ups, lows), False
    if len(members) == 2:
        v, w = members
        if v != 0 and d.children[v] == (w,) and not d.children[w]:
            up = _slots(d, v)[0]
            idx = _INDICES[w - 1]
            return f"(∇^{up} C^{idx}_{idx})", True
    slots = []
    for v in members:
        up, low = _slots(d, v)
        derivs = [f"∇^{i}" for i in up] + [f"∇_{i}" for i in low]
        slots.append("".join(derivs) + " l" if derivs else "l")
    return "⟨" + ", ".join(slots) + "⟩", False


def value_name(d: Diagram, root: str = "loss") -> str:
    """The value of ``d`` in the paper's index notation (≤ 3 edges), else ``uvalue[<notation>]``."""
    if d.n_edges > MAX_NAMED_EDGES:
        return f"uvalue[{d}]"
    half = 0
    factors = []
    for members in d.part_members:
        if root == "displacement" and 0 in members:
            continue  # s(θ) = θ − θ0: the root is the identity; its edge index stays free
        tensor, has_half = _part_tensor(d, members)
        half += has_half
        factors.append(tensor)
    prefix = "" if not half else ("½ " if half == 1 else f"(½)^{half} ")
    return prefix + " ".join(factors) if factors else "1"


def value_latex(d: Diagram, root: str = "loss") -> str:
    """LaTeX of :func:`value_name`."""
    if d.n_edges > MAX_NAMED_EDGES:
        return r"\mathrm{uvalue}[\texttt{" + str(d) + "}]"
    text = value_name(d, root)
    return "".join(_LATEX.get(ch, ch) for ch in text).replace("  ", " ").replace(" ,", ",").strip()
