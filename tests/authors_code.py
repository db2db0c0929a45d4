"""The authors' public coefficient tables (bohrium/perturb, ``code/coefficients.py``) in our terms.

Their names (``code/gradstats.py``) are *unrooted moments*: a tree (``01-02`` = "V": a root with two
children; ``01-02-03`` = "Y": a root with three; ``01-02-13`` = "Z": root → 1, 2 and 1 → 3) and a
partition of its nodes (0 = the root); nodes in one part read the same data point and the value is the
expectation of the product of the parts' derivatives (moments, not cumulants), contracted along the
edges with η = 1.  ``T:k`` is their binomial C(T, k).  :func:`moments` computes every name exactly for a
finite landscape at θ0; the ``their_*`` functions state their tables (as printed in that file) so that
``tests/test_authors_code.py`` and ``docs/authors_code.md`` can set them beside our engine.
"""

from __future__ import annotations

from math import comb

import numpy as np
import sympy as sp

from sgd_diagrams.landscapes import FiniteLandscape

# (tree)(partition) of every name, as listed in their gradstats.py
NAMES = {
    "Dpln": "()(0)", "Ipln": "(01)(0-1)", "Iall": "(01)(01)",
    "Vpln": "(01-02)(0-1-2)", "Vlvs": "(01-02)(0-12)", "Vtwg": "(01-02)(01-2)", "Vall": "(01-02)(012)",
    "Ypln": "(01-02-03)(0-1-2-3)", "Ylvs": "(01-02-03)(0-1-23)", "Yerg": "(01-02-03)(0-123)",
    "Ytwg": "(01-02-03)(01-2-3)", "Ysli": "(01-02-03)(01-23)", "Yvee": "(01-02-03)(012-3)",
    "Yall": "(01-02-03)(0123)",
    "Zpln": "(01-02-13)(0-1-2-3)", "Zlvs": "(01-02-13)(0-1-23)", "Zalt": "(01-02-13)(0-12-3)",
    "Zexc": "(01-02-13)(0-123)", "Ztwg": "(01-02-13)(0-13-2)", "Zmid": "(01-02-13)(01-2-3)",
    "Zsli": "(01-02-13)(01-23)", "Zvee": "(01-02-13)(012-3)", "Zall": "(01-02-13)(0123)",
    "Zsll": "(01-02-13)(02-13)", "Zsii": "(01-02-13)(03-12)",
}
ORDER3 = [n for n in NAMES if n[0] in "YZ"]


def moments(landscape, covariances: bool = False) -> dict[str, float]:
    """Every named value of a finite ``landscape`` at θ0 with η = 1.

    V: root ∇²l_ab, children ∇_a l, ∇_b l.  Y: root ∇³l_abc, three children.  Z: root ∇²l_ab, node 1
    ∇²l_ac (child of the root along a), node 2 ∇_b l, node 3 ∇_c l (child of node 1).
    ``covariances=True`` replaces the moments of the noise parts that the SDE table uses — E[∇l ∇l] and
    E[∇²l ∇l] — by covariances (C and Cov(∇²l, ∇l)).
    """
    D = landscape.derivative_tensors(3)
    p = np.asarray(landscape.probs, dtype=np.float64)
    g, h, j3 = D[1], D[2], D[3]
    G, H, J = p @ g, np.tensordot(p, h, 1), np.tensordot(p, j3, 1)
    e = lambda spec, *xs: float(np.einsum(spec, *xs))  # noqa: E731
    M2 = np.einsum("k,ka,kb->ab", p, g, g)
    Hg = np.einsum("k,kab,kc->abc", p, h, g)  # E[∇²l_ab ∇_c l]
    if covariances:
        M2 = np.einsum("k,ka,kb->ab", p, g - G, g - G)
        Hg = np.einsum("k,kab,kc->abc", p, h - H, g - G)
    M3 = np.einsum("k,ka,kb,kc->abc", p, g, g, g)
    Hgg = np.einsum("k,kab,kc,kd->abcd", p, h, g, g)
    HH = np.einsum("k,kab,kcd->abcd", p, h, h)
    HHg = np.einsum("k,kab,kcd,ke->abcde", p, h, h, g)
    HHgg = np.einsum("k,kab,kcd,ke,kf->abcdef", p, h, h, g, g)
    Jg = np.einsum("k,kabc,kd->abcd", p, j3, g)
    Jgg = np.einsum("k,kabc,kd,ke->abcde", p, j3, g, g)
    Jggg = np.einsum("k,kabc,kd,ke,kf->abcdef", p, j3, g, g, g)
    theta0 = np.asarray(landscape.init, dtype=np.float64)
    return {
        "Dpln": float(p @ np.array([landscape.loss(k, theta0) for k in range(len(p))])),
        "Ipln": float(G @ G), "Iall": e("k,ka,ka->", p, g, g),
        "Vpln": e("a,ab,b->", G, H, G), "Vlvs": e("ab,ab->", H, M2), "Vtwg": e("aba,b->", Hg, G),
        "Vall": e("abab->", Hgg),
        "Ypln": e("abc,a,b,c->", J, G, G, G), "Ylvs": e("abc,a,bc->", J, G, M2), "Yerg": e("abc,abc->", J, M3),
        "Ytwg": e("abca,b,c->", Jg, G, G), "Ysli": e("abca,bc->", Jg, M2), "Yvee": e("abcab,c->", Jgg, G),
        "Yall": e("abcabc->", Jggg),
        "Zpln": e("ab,ac,b,c->", H, H, G, G), "Zlvs": e("ab,ac,bc->", H, H, M2), "Zalt": e("ab,acb,c->", H, Hg, G),
        "Zexc": e("ab,acbc->", H, Hgg), "Ztwg": e("ab,b,acc->", H, G, Hg), "Zmid": e("abac,b,c->", HH, G, G),
        "Zsli": e("abac,bc->", HH, M2), "Zvee": e("abacb,c->", HHg, G), "Zall": e("abacbc->", HHgg),
        "Zsll": e("abb,acc->", Hg, Hg), "Zsii": e("abc,acb->", Hg, Hg),
    }


def their_test_order2(v: dict[str, float], T: int) -> float:
    """``sgd_vanilla_test[2]``: '+ T:2 Vpln + T:1 Vlvs / 2!'."""
    return comb(T, 2) * v["Vpln"] + T * v["Vlvs"] / 2


def their_test_order3(v: dict[str, float], T: int) -> float:
    """``sgd_vanilla_test[3]``: '- T:3 (4 Zpln + 2 Ypln) - T:2 (1.5 Ylvs + Zlvs + Zalt) - T:1 Yerg / 3!'."""
    return -(comb(T, 3) * (4 * v["Zpln"] + 2 * v["Ypln"]) + comb(T, 2) * (1.5 * v["Ylvs"] + v["Zlvs"] + v["Zalt"])
             + T * v["Yerg"] / 6)


def their_gen_order3_terms(T: int, N: int) -> dict[str, float]:
    """``sgd_vanilla_gen[3]`` collected by name: the coefficient each name gets at (T, N)."""
    c3, c2, c1 = comb(T, 3) / N, comb(T, 2) / N, T / N
    terms: dict[str, float] = {}

    def add(coef: float, **names: float) -> None:
        for n, a in names.items():
            terms[n] = terms.get(n, 0.0) + coef * a

    add(c3, Ztwg=4, Zalt=5, Zmid=2, Zlvs=1, Zpln=-12)
    add(c3, Ytwg=4, Ylvs=2, Ypln=-6)
    add(c2, Yvee=1, Ysli=1.5, Ylvs=0.5 - 3)
    add(c2, Ysli=1, Yvee=1, Ylvs=-2)
    add(c2, Yvee=1, Ysli=1, Ytwg=-2)
    add(c1 / 6, Yall=1, Yerg=-1)
    return terms


def their_sde_order3(v: dict[str, float], T: float) -> float:
    """``sde_test[3]``: '- ((T^3)/3!) (4 Zpln + 2 Ypln) - ((T^2)/2!) (1.5 Ylvs + Zlvs + Zalt)'."""
    return -(T**3 / 6 * (4 * v["Zpln"] + 2 * v["Ypln"]) + T**2 / 2 * (1.5 * v["Ylvs"] + v["Zlvs"] + v["Zalt"]))


def their_gd_minus_sgd_order2(v: dict[str, float], T: int, N: int) -> float:
    """``gd_minus_sgd_vanilla_test[2]``: '- ((T:2) / N) (Vtwg - Vpln)'."""
    return -comb(T, 2) / N * (v["Vtwg"] - v["Vpln"])


def binomial_basis(T: int, N: int) -> np.ndarray:
    """C(T,3)/N, C(T,2)/N, T/N: the T-dependence of one-epoch order-3 gen-gap coefficients."""
    return np.array([comb(T, 3) / N, comb(T, 2) / N, T / N])


def wiener_symmetric(L: FiniteLandscape, k: float) -> FiniteLandscape:
    """The SDE's landscape for the k-fold refinement of ``L``: every point's noise l_j − l and its mirror
    image, scaled by √k (Wiener scaling) — the same mean and covariances as ``L`` (times k), no odd cumulants.
    SGD on it for T·k steps of η/k tends to the SDE as k → ∞; its Taylor coefficients are polynomials in 1/k
    of degree below the order (for orders ≤ 3)."""
    p = [float(x) for x in L.probs]
    mean = sum(sp.Float(pj, 30) * lj for pj, lj in zip(p, L.losses, strict=True))
    losses = [mean + s * sp.sqrt(k) * (lj - mean) for lj in L.losses for s in (1, -1)]
    return FiniteLandscape(L.dim, np.asarray(L.init, dtype=float).tolist(), [pj / 2 for pj in p for _ in (1, -1)],
                           losses)
