"""Diagram values estimated from samples, with error bars (seed 001 App. C.3, C.6).

:mod:`.evaluators` (unbiased dense and matrix-free uvalue estimators, sample plans),
:mod:`.matrix_free` (nested forward-over-reverse messages), :mod:`.predictions`
(Taylor and dense resummed predictions per replication, mean ± standard error).
Needs torch for sampled landscapes; finite numpy landscapes work without it.
"""
