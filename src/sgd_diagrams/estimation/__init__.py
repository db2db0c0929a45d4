"""Diagram values estimated from samples, with error bars (seed 001 App. C.3, C.6).

:mod:`.evaluators` (unbiased dense and matrix-free uvalue estimators, sample plans),
:mod:`.matrix_free` (nested forward-over-reverse messages), :mod:`.group_statistic` (the per-sample +
group-mean statistic on materialized tensors), :mod:`.tensor_sources` (dense or Krylov-projected
per-sample tensors), :mod:`.lanczos` (Ritz bases from Hessian-vector products), :mod:`.krylov`
(resummed predictions and T → ∞ limits from samples, matrix-free), :mod:`.predictions` (Taylor and
resummed predictions per replication, mean ± standard error).
Needs torch for sampled landscapes; finite numpy landscapes work without it.
"""
