"""Hypothesis profiles for the whole suite: ``default`` (quick), ``ci`` (built-in, extended) and
``thorough``. Select with ``pytest --hypothesis-profile=thorough``; ``ci`` is active when ``CI``
is set in the environment (Hypothesis does this itself)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from reference._threads import pin_threads
from verify.claims.properties import DEFAULT_PROFILE_EXAMPLES

# One BLAS/OpenMP/torch thread for every test process (and the processes tests start): results
# and run times must not depend on what else the shared machine runs (docs/asv.md, "Threads").
pin_threads(1)

_common = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

settings.register_profile("default", max_examples=DEFAULT_PROFILE_EXAMPLES, **_common)
settings.register_profile(
    "ci", parent=settings.get_profile("ci"), max_examples=40, print_blob=True, **_common
)
settings.register_profile("thorough", max_examples=2000, **_common)
settings.load_profile("ci" if os.environ.get("CI") else "default")
