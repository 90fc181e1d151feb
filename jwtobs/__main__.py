"""``python -m jwtobs``: the ``jwtobs`` command."""

import sys

from jwtobs.cli import main

sys.exit(main())
