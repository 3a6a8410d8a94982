"""python -m agentdb: the command line (see agentdb.cli)."""
import sys

from .cli import main

sys.exit(main())
