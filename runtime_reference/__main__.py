"""`python -m runtime_reference ...`: see cli.py."""

import sys

from .cli import main

sys.exit(main())
