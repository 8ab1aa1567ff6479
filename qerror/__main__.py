"""``python -m qerror``: the same command line as the ``qerror`` script."""

import sys

from qerror.cli import script

if __name__ == "__main__":
    sys.exit(script())
