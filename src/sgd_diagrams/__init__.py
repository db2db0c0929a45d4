"""sgd-diagrams: the diagrammatic perturbation theory of SGD, as software.

See seed 001 ("A Perturbative Analysis of Stochastic Gradient Descent") and
``DESIGN.md``.  Layers: diagrams → histories on a schedule → values from a
landscape → predictions.
"""

from .errors import SgdDiagramsError

__version__ = "0.1.0"
__all__ = ["SgdDiagramsError", "__version__"]
