r"""Data: the quantization error of arrays, and its certified optimal clipping.

:mod:`qerror.data.solver` computes the exact error of a data array and its certified
global optimum (per tensor or per channel); :mod:`qerror.data.routes` gives the clipping
rules other tools use (max-abs, ACIQ moment fits, OCTAV) with their exact errors.
"""

from .routes import compare_alphas, fit_alpha, maxabs_alpha, octav_alpha
from .solver import empirical_error_parts, optimal_alpha_data

__all__ = ["optimal_alpha_data", "empirical_error_parts", "maxabs_alpha", "fit_alpha",
           "octav_alpha", "compare_alphas"]
