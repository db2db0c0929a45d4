"""GDC's coefficient: the regularizer that makes GD emulate SGD to order η² (seed 001 Cor 2, App. A.7, C.3).

GD on l + κ·η·tr C (with C the gradient covariance) matches SGD on a given
schedule through order η² when κ is the value below; for one-epoch SGD with
B = 1 it is Corollary 2's (N−1)/(4N).  The simulators in
:mod:`sgd_diagrams.optimizers.regularized` use it as GDC's default.
"""

from __future__ import annotations

import numpy as np

from ..schedules.grid import Schedule

__all__ = ["gdc_coefficient"]


def gdc_coefficient(schedule: Schedule) -> float:
    """κ such that GD on l + κ η tr C matches SGD on ``schedule`` to order η².

    Expanding θ_T to order η², the only schedule-dependent η² term of the mean is
    η² Σ_{s<t} E[H_{B_t} g_{B_s}], whose excess over H·G is ½∇tr C times
    o_{st} = |B_s ∩ B_t| / (|B_s||B_t|).  GD has o_{st} = 1/N for all T(T−1)/2 pairs, so
    E[θ_GD − θ_SGD] = ½ η² D ∇tr C with D = T(T−1)/(2N) − Σ_{s<t} o_{st}.  GD on
    l + R moves an extra −ηT∇R, so R = η D tr C / (2T), i.e. κ = D / (2T).
    For E = B = 1 (T = N, disjoint batches) κ = (N−1)/(4N), Corollary 2's value.
    """
    T, N = schedule.T, schedule.N
    weights = schedule.cell_weights()
    overlap = weights.T @ weights
    sgd_pairs = float(np.triu(overlap, k=1).sum())
    gd_pairs = T * (T - 1) / (2 * N)
    return (gd_pairs - sgd_pairs) / (2 * T)
