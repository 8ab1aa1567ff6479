"""Shared test configuration.

Hypothesis profiles (scipy's habit): ``ci`` is derandomized so that CI runs are
reproducible; ``dev`` is the default for local runs; ``explore`` searches widely for
counterexamples (``pytest --hypothesis-profile=explore``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else
                      os.environ.get("QERROR_HYPOTHESIS_PROFILE", "dev"))
