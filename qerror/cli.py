"""The ``qerror`` command line.

Each sub-command lives in a module that exposes ``register(subparsers)``; the module
adds its parser and sets ``func`` (called with the parsed namespace, returning an
exit code).  Modules are imported only when the CLI runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name of the module under qerror._commands that registers each sub-command
_COMMANDS = ("demo", "table", "analyze", "verify", "curve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qerror",
        description="Mean-square error of clipped uniform quantizers, exact and ACIQ.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"qerror._commands.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"qerror._commands.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        # the bare command runs the demo: what the README's first command shows
        args = parser.parse_args(["demo", *(argv or [])])
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
