"""`python -m tritensor.autotune ...`: the same command as `tritensor autotune ...`."""

from .cli import main

raise SystemExit(main())
