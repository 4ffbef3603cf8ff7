"""asv benchmarks: one verified grid sequence of the lookup construction, exact vs dense mpmath.

``d = 1, K = 2, Q = 4`` and ``L = log2 T + 1``, so ``T = K^{d(L−1)}`` contexts and ``2T`` bits per
packed number. ``exact`` is :mod:`reference.constructions.exact` (exact integers over the
non-zero weights, certified softmax enclosure: a proof); ``mpmath`` the dense backend at the needed
precision (a float observation). The construction is built in ``setup`` (not timed); the timing is
one sequence evaluated and its digits compared with the random table. ``track_*`` are the fitted
log-log exponents of the time per sequence in ``T``, measured once in ``setup_cache``.
"""

from __future__ import annotations

EXACT_T = [4, 16, 64, 256]
DENSE_T = [4, 8, 16]
Q = 4


def _verifier(T: int, backend: str):
    from verify.claims.universality.scale.grids import one_sequence_verifier

    return one_sequence_verifier(1, T.bit_length(), 2, Q, backend)


class _Sequence:
    """One verified sequence on ``backend`` (subclasses set it and their ``T`` values)."""

    backend = "exact"
    param_names = ("T",)
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, T: int) -> None:
        self.run = _verifier(T, self.backend)

    def time_sequence(self, T: int) -> None:
        self.run()


class TimeVerifiedSequenceExact(_Sequence):
    params = (EXACT_T,)
    backend = "exact"


class TimeVerifiedSequenceMpmath(_Sequence):
    params = (DENSE_T,)
    backend = "mpmath"


class TrackSequenceExponent:
    """Fitted exponents of the time per verified sequence in ``T`` (tens of seconds once)."""

    timeout = 900

    def setup_cache(self) -> dict:
        import time

        from verify.claims.efficiency.timing import fitted_exponent

        out = {}
        for backend, sizes in (("exact", EXACT_T), ("mpmath", DENSE_T)):
            seconds = []
            for T in sizes:
                run = _verifier(T, backend)
                start = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - start)
            out[backend] = fitted_exponent(sizes, seconds)
        return out

    def track_exact_exponent_in_T(self, cache: dict) -> float:
        return cache["exact"]

    def track_mpmath_exponent_in_T(self, cache: dict) -> float:
        return cache["mpmath"]
