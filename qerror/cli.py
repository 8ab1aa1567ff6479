"""The ``qerror`` command line (also ``python -m qerror``).

Each sub-command lives in a module that exposes ``register(subparsers)``; the module
adds its parser and sets ``func`` (called with the parsed namespace, returning an
exit code).  Modules are imported only when the CLI runs.

A closed output pipe (``qerror analyze big.onnx | head``) ends the command quietly
with status 141 (128 + SIGPIPE, what a shell reports for a pipe writer), and Ctrl-C
with status 130, both without a traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

# name of the module under qerror._commands that registers each sub-command
_COMMANDS = ("demo", "table", "analyze", "verify", "curve")

#: exit status after a closed output pipe / an interrupt (the shells' 128 + signal)
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or with the sub-command `only` alone (what
    :func:`main` uses when the command is named: registering ``verify`` imports
    :mod:`qerror.proofs` and scipy, about 1.5 s that ``qerror analyze`` need not pay)."""
    parser = argparse.ArgumentParser(
        prog="qerror",
        description="Mean-square error of clipped uniform quantizers, exact and ACIQ.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS if only is None else (only,):
        try:
            mod = importlib.import_module(f"qerror._commands.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"qerror._commands.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of a closed
    pipe does not print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
        pass


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in _COMMANDS else None)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        # the bare command runs the demo: what the README's first command shows
        args = parser.parse_args(["demo", *(argv or [])])
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("qerror: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def script(argv=None) -> int:
    """The ``qerror`` script and ``python -m qerror``: :func:`main`, then nothing for
    the cyclic garbage collector to do at interpreter exit (:func:`gc.freeze`).

    The process ends next; after numba has loaded its compiled kernels, the final
    collection walks every object of numba, llvmlite and scipy and took 0.1-0.2 s of
    a 1.5 s ``qerror analyze``.  Objects are still released and files flushed as
    usual; only unreachable cycles are left to the operating system.  Call
    :func:`main` to run the command line inside a longer-lived process.
    """
    code = main(argv)
    gc.freeze()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(script())
