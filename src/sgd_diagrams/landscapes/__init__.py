"""Landscapes: distributions over per-sample losses, with an initialization θ0."""

from .finite import FiniteLandscape, landscape_from_json, load_landscape_file

__all__ = ["FiniteLandscape", "landscape_from_json", "load_landscape_file"]
