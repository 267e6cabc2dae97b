"""``python -m edge``: same as the ``edge`` command."""

from edge.cli import main

raise SystemExit(main())
