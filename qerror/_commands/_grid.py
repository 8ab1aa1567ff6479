"""The ``--grid`` option shared by every command: the registered formats."""

from qerror.formats import DEFAULT, available, get_format

__all__ = ["DEFAULT_GRID", "GRID_CHOICES", "GRID_HELP", "get_format"]

DEFAULT_GRID = DEFAULT.name
GRID_CHOICES = available()
GRID_HELP = (f"quantizer grid (default {DEFAULT_GRID}, the supplement's; midtread is "
             "what symmetric integer kernels run)")
