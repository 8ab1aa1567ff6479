"""Sub-commands of the ``qerror`` CLI (see :mod:`qerror.cli`)."""
