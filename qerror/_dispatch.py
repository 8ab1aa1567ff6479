"""The one place that decides whether a ``dist`` argument is a law or data (private).

Every public function that takes a distribution or a data array calls
:func:`law_or_data` once and hands the result to the law engine
(:mod:`qerror._law_engine`) or to the data engine (:mod:`qerror.data.solver`).
"""

from __future__ import annotations

from .laws._protocol import Law, is_law, resolve

__all__ = ["law_or_data"]


def law_or_data(dist) -> tuple[Law | None, object]:
    """``(law, None)`` for a distribution (resolved and checked: TypeError/ValueError
    for unfrozen, discrete or ill-parameterised laws), ``(None, dist)`` for data (the
    data engine checks it in its first pass over the values)."""
    if is_law(dist):
        return resolve(dist), None
    return None, dist
