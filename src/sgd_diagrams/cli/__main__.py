"""``python -m sgd_diagrams.cli``: the same as the ``sgd-diagrams`` command."""

import sys

from . import main

sys.exit(main())
