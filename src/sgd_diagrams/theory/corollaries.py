"""The papers' closed forms, as functions of the named tensors (seed 001 Fig. 8).

Every function takes statistics at θ0 — G, H, J (= ∇H), C, ∇C, S — and the
hyperparameters, with η a scalar or a symmetric matrix (an inverse metric).
:func:`named_statistics` computes the tensors exactly for a finite landscape.
Each formula is tested against the diagram engine (``tests/test_corollaries.py``);
where the printed text disagrees with the engine the docstring says so and the
function implements the engine-verified form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "NamedStatistics",
    "named_statistics",
    "prop0",
    "prop0_resummed",
    "example_b_noise_term",
    "corollary1_displacement",
    "corollary2_gd_minus_sgd",
    "corollary3_sgd_minus_ode",
    "corollary4_noise_term",
    "corollary5_skew_term",
    "sgd_minus_sde_at_minimum",
    "corollary6_overfitting",
    "corollary6_generalization_gap",
    "corollary7_epochs_displacement",
    "epochs_test_loss_difference",
]


@dataclass(frozen=True)
class NamedStatistics:
    """G, H, J, C, ∇C (∇_ρ C_{μλ}, derivative index first) and S at θ0."""

    G: np.ndarray
    H: np.ndarray
    J: np.ndarray
    C: np.ndarray
    gradC: np.ndarray
    S: np.ndarray


def named_statistics(landscape) -> NamedStatistics:
    """The named tensors of seed 001 Fig. 8 for a finite landscape, exactly."""
    D = landscape.derivative_tensors(3)
    p = landscape.probs
    g, h = D[1], D[2]
    G = p @ g
    H = np.tensordot(p, h, axes=1)
    J = np.tensordot(p, D[3], axes=1)
    dg = g - G
    C = np.einsum("j,ja,jb->ab", p, dg, dg)
    S = np.einsum("j,ja,jb,jc->abc", p, dg, dg, dg)
    cov_hg = np.einsum("j,jra,jb->rab", p, h - H, dg)  # κ(∇²l, ∇l)
    gradC = cov_hg + cov_hg.transpose(0, 2, 1)
    return NamedStatistics(G, H, J, C, gradC, S)


def _eta(eta, dim: int) -> np.ndarray:
    e = np.asarray(eta, dtype=np.float64)
    return e * np.eye(dim) if e.ndim == 0 else e


def prop0(G: np.ndarray, eta, T: int) -> float:
    """Prop 0: E[l(θ_T) − l(θ0)] = −T·G η G + o(η)."""
    e = _eta(eta, len(G))
    return float(-T * G @ e @ G)


def prop0_resummed(G: np.ndarray, H: np.ndarray, eta, T: int) -> float:
    """Example A: the resummed one-edged diagram, −Σ_{t<T} G (I − ηH)^{T−t−1} η G = −G [(I−(I−K)^T)/K] η G."""
    e = _eta(eta, len(G))
    K = e @ H
    total = np.zeros_like(K)
    power = np.eye(len(G))
    for _ in range(T):
        total += power
        power = (np.eye(len(G)) - K) @ power
    return float(-G @ total @ e @ G)


def example_b_noise_term(C: np.ndarray, H: np.ndarray, eta: float, T: int) -> float:
    """Example B / Example 4 (E = B = 1): the r(aa) rvalues, C contracted with (1−e^{−T(λμ+λν)})/(λμ+λν) (ηHη), × ½.

    In an eigenbasis of ηH (scalar η); Remark 1's continuous-time form.
    """
    lam, U = np.linalg.eigh(eta * H)
    Ce = U.T @ C @ U
    M = U.T @ (eta * H * eta) @ U
    s = lam[:, None] + lam[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(np.abs(s) > 1e-15, (1 - np.exp(-T * s)) / s, T)
    return float(0.5 * np.sum(Ce * factor * M))


def corollary1_displacement(C: np.ndarray, H: np.ndarray, J: np.ndarray, eta: float, T: int) -> np.ndarray:
    """Corollary 1 (E = B = 1 SGD started at a minimum): the order-η³ resummed displacement.

    −Σ C_{μφ} P_T(K_μ + K_φ) η^{μν} η^{φπ} J_{νπξ} P_T(K_ξ) η^{ξρ} / 2 is the paper's printed form;
    its leading large-T behaviour is −η² C∇H/2 per step along flat directions (ηλ_ξ → 0).
    Here it is evaluated in the continuous-time form of its proof (App. B.6): ∫_{t + t̃ ≤ T} with
    P_T(s) = (1 − e^{−Ts})/s for the double integral factorised as printed.
    """
    lam, U = np.linalg.eigh(eta * H)

    def P(s):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(s) > 1e-15, (1 - np.exp(-T * s)) / s, T)

    Ce = U.T @ C @ U
    Je = np.einsum("abc,ai,bj,ck->ijk", J, U, U, U)
    pair = P(lam[:, None] + lam[None, :])
    single = P(lam)
    v = -np.einsum("mf,mf,mfx,x->x", Ce, pair, Je * eta * eta, single * eta) / 2
    return U @ v


def corollary2_gd_minus_sgd(gradC: np.ndarray, eta, N: int) -> np.ndarray:
    """Corollary 2: E[θ_GD − θ_SGD] = T(N−1)/(4N)·η^{μρ}η^{νξ}∇_μ C_{νξ} + o(η²) with T = N (E = B = 1 SGD).

    Engine form for GD with T steps vs one-epoch SGD: C(T, 2)/N · ½ η∇tr(ηC), which is the
    printed value at T = N.
    """
    e = _eta(eta, gradC.shape[0])
    T = N
    return (T * (T - 1) / (4 * N)) * e @ np.einsum("rab,ab->r", gradC, e)


def corollary3_sgd_minus_ode(G: np.ndarray, H: np.ndarray, eta, T: int) -> np.ndarray:
    """Corollary 3 (noiseless landscape): E[θ_SGD − θ_ODE] = −(T/4)·η^{ξρ}η^{μν}∇_ξ(G_μG_ν) + o(η²).

    ∇_ξ(G_μ η^{μν} G_ν) = 2 H_{ξμ} η^{μν} G_ν, so this is −(T/2)·ηHηG.  The ODE is the k → ∞ limit of
    k-times refined SGD (T·k steps at η/k); the chain r(a(b)) has C(T,2) vs T²/2 histories.
    """
    e = _eta(eta, len(G))
    return -(T / 2) * e @ H @ e @ G


def corollary4_noise_term(C: np.ndarray, H: np.ndarray, eta, T: int) -> float:
    """Corollary 4's printed term (T/2)·C_{μν}η^{μξ}η^{νδ}H_{ξδ} for E = B = 1 SGD.

    Engine-verified meaning: this is SGD's order-η² excess over the noiseless **ODE**.  Over the
    Wiener-scaled SDE of the paper's §"Continuous time" (k-fold refinement, noise covariance k·C) the
    order-η² C-term is identical, so that excess vanishes at order η² (docs/discrepancies.md).
    """
    e = _eta(eta, C.shape[0])
    return float(T / 2 * np.einsum("mn,mx,nd,xd->", C, e, e, H))


def corollary5_skew_term(S: np.ndarray, H: np.ndarray, J: np.ndarray, eta: float, T: int) -> float:
    """Corollary 5 (E = B = 1): the skewness contribution −(η³/3!) Σ S_{μνλ} J_{μνλ} (1 − e^{−Ts})/s.

    s = η(λ_μ + λ_ν + λ_λ) in an eigenbasis of H (continuous time, Remark 1): the resummed value of
    the diagram r(aaa), which a Gaussian (SDE) landscape lacks.
    """
    lam, U = np.linalg.eigh(H)
    Se = np.einsum("abc,ai,bj,ck->ijk", S, U, U, U)
    Je = np.einsum("abc,ai,bj,ck->ijk", J, U, U, U)
    s = eta * (lam[:, None, None] + lam[None, :, None] + lam[None, None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(np.abs(s) > 1e-15, (1 - np.exp(-T * s)) / s, T)
    return float(-(eta**3) / 6 * np.sum(Se * Je * factor))


def sgd_minus_sde_at_minimum(C: np.ndarray, H: np.ndarray, J: np.ndarray, S: np.ndarray, eta: float,
                             T: int) -> dict[str, float]:
    """E = B = 1 SGD's test loss minus the Wiener-scaled SDE's, at a minimum (G = 0), to order η³.

    Engine-derived (the order-3 diagrams with histories in E = B = 1 at G = 0 are r(aaa) and the chain
    with its two leaves tied): SGD has −C(T,2)·tr(ηCηHηH) − (T/6)·η³S·J, the SDE (k-fold refinement,
    noise k·C, k → ∞) −(T²/2)·tr(ηCηHηH) and no skew.  So SGD − SDE = ``skew`` + ``discretization`` with
    ``skew`` = −(T/6)·η³ S_{μνλ}J^{μνλ} (Cor 5's Taylor form) and ``discretization`` = +(T/2)·tr(ηC·ηH·ηH)
    (time discretization; the order-η³ analogue of Cor 4, absent from the printed text).  Scalar η.
    """
    skew = -(eta**3) * T / 6 * float(np.einsum("abc,abc->", S, J))
    disc = eta**3 * T / 2 * float(np.trace(C @ H @ H))
    return {"skew": skew, "discretization": disc, "total": skew + disc}


def corollary6_overfitting(C: np.ndarray, H: np.ndarray, eta: float, T: int, N: int,
                           discrete: bool = True) -> float:
    """Corollary 6: GD from a test minimum, test loss − l(θ*) = Σ (C/(2NH)) (I − (I−ηH)^T)^{⊗2} + o(η²).

    In an eigenbasis of H: Σ_i C_ii (1 − d_i)² / (2Nλ_i) with d_i = (1 − ηλ_i)^T, or the paper's
    e^{−ηTλ_i} with ``discrete=False``.  The discrete form is exact for quadratic losses sharing one
    Hessian (mean estimation).
    """
    lam, U = np.linalg.eigh(H)
    decay = (1 - eta * lam) ** T if discrete else np.exp(-eta * T * lam)
    Ce = U.T @ C @ U
    return float(np.sum(np.diag(Ce) * (1 - decay) ** 2 / (2 * N * lam)))


def corollary6_generalization_gap(C: np.ndarray, H: np.ndarray, eta: float, T: int, N: int,
                                  discrete: bool = True) -> float:
    """Corollary 6: gen gap = Σ (C/(NH)) (I − (I−ηH)^T) + o(η) → tr(C H⁻¹)/N as T → ∞ (AIC when C = H)."""
    lam, U = np.linalg.eigh(H)
    decay = (1 - eta * lam) ** T if discrete else np.exp(-eta * T * lam)
    Ce = U.T @ C @ U
    return float(np.sum(np.diag(Ce) * (1 - decay) / lam) / N)


def corollary7_epochs_displacement(G, H, gradC, eta0, N: int, E0: int) -> np.ndarray:
    """Corollary 7, engine-verified: E[θ_{E=E0, η0/E0} − θ_{E=1, η0}] at order η0².

    Printed: (E0−1)/(4E0)·N·η η ∇C.  The Key Lemma adds the curvature term
    N(E0−1)/(2E0)·ηHηG (see docs/discrepancies.md); both are returned summed.
    """
    e = _eta(eta0, len(G))
    printed = (E0 - 1) / (4 * E0) * N * e @ np.einsum("rab,ab->r", gradC, e)
    curvature = N * (E0 - 1) / (2 * E0) * e @ H @ e @ G
    return printed + curvature


def epochs_test_loss_difference(G, H, gradC, eta0, N: int, M0: int) -> float:
    """App. A.1 Question 2 (engine-verified): test-loss difference at order η0² incl. the GηHηG term."""
    e = _eta(eta0, len(G))
    return float((M0 - 1) / (4 * M0) * N * G @ e @ np.einsum("rab,ab->r", gradC, e)
                 + N * (M0 - 1) / (2 * M0) * G @ e @ H @ e @ G)
