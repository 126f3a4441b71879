"""``python -m seegaan`` (also what ``torchrun -m seegaan train ...`` runs)."""

import sys

from seegaan.cli import main

sys.exit(main())
