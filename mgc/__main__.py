"""``python -m mgc``: the command-line interface (see :mod:`mgc.cli`)."""

import sys

from .cli import main

sys.exit(main())
