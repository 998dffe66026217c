"""``python -m modelshelf`` runs the CLI."""

import sys

from modelshelf.cli.main import main

sys.exit(main())
