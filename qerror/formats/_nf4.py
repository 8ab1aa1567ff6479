r"""QLoRA's NormalFloat-4 (NF4): 16 levels at quantiles of N(0, 1), asymmetric, max 1.

Dettmers et al. (2023), "QLoRA: Efficient Finetuning of Quantized LLMs", build the code
from the standard normal quantile function :math:`\Phi^{-1}` with
:math:`\delta = 0.9677083`:

.. math::

    v^+_i = \Phi^{-1}\Bigl(\delta + \tfrac{i}{8}(\tfrac12 - \delta)\Bigr),\ i = 0..7,
    \qquad
    v^-_i = -\Phi^{-1}\Bigl(\delta + \tfrac{i}{7}(\tfrac12 - \delta)\Bigr),\ i = 0..6,

plus an exact 0, all divided by :math:`v^+_0 = \Phi^{-1}(\delta)` (8 positive levels,
7 negative, the extremes :math:`\pm1`).  :data:`NF4_VALUES` are the float32 numbers
that bitsandbytes hard-codes (``get_4bit_type("nf4")``, its CUDA dequantization table);
the tests rebuild them from the formula above.  bitsandbytes quantizes with a tree of
``x > midpoint`` comparisons, so a value exactly on a midpoint goes to the lower level:
qerror's :class:`~qerror.formats.LevelSet` rule.
"""

from __future__ import annotations

import numpy as np

from ._levelset import LevelSet

__all__ = ["NF4", "NF4_VALUES", "NF4_OFFSET"]

#: the offset delta of the construction
NF4_OFFSET = 0.9677083

#: the 16 NF4 levels exactly as bitsandbytes stores them (float32, widened)
NF4_VALUES = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0], dtype=np.float32).astype(np.float64)

NF4 = LevelSet(NF4_VALUES, name="nf4", bits=4)
