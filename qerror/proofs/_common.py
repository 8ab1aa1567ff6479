"""Helpers shared by :mod:`qerror.proofs.lemmas` and :mod:`qerror.proofs.search`."""

from __future__ import annotations


def _fmt(x) -> str:
    return f"{float(x):.6g}"
