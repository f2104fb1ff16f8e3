"""`python -m tritensor ...`: the same as the `tritensor` console script."""

import sys

from .cli import main

sys.exit(main())
