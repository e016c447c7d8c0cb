"""``python -m mmnet`` = the ``mmnet`` command."""

from mmnet.cli import main

raise SystemExit(main())
