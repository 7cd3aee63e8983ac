"""``python -m api.cli``: the ``ledger`` command (without the package import warning that
``python -m api.cli`` gives, since this package imports its main module)."""

import sys

from api.cli.main import main

sys.exit(main())
