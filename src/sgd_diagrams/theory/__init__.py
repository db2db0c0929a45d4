"""Theory: Theorem 1's series and (later) resummation and corollaries."""

from .series import QUANTITIES, Series, SeriesTerm, taylor_coefficients, taylor_series

__all__ = ["QUANTITIES", "Series", "SeriesTerm", "taylor_coefficients", "taylor_series"]
