"""Sizes and precision of the lookup construction: grid, contexts, band, β, bits needed.

Plain-Python numbers (``reference`` never imports ``verify``); the same quantities are sympy
expressions in ``verify/claims/universality/bounds.py`` and the tests check they agree.
"""

from __future__ import annotations

import math
from fractions import Fraction

from reference._validation import positive_int

#: The public API (the other size formulas are steps of the construction, called with sizes
#: check_sizes accepted).
__all__ = ["check_grid", "precision_needed", "resolve_precision"]

BACKENDS = ("float64", "mpmath", "exact")
DECODERS = ("deep", "wide", "shallow")
FLOAT64_BITS = 53
MPMATH_EXTRA_BITS = 8  # default mpmath precision: the needed bits plus this margin
GUARD_BITS = 6  # the packed table's relative error must stay below 2^-(T log2 Q + 3): 3·2^-p ≤ that
MAX_PROMPT_ROWS = 1 << 16
MAX_CONTEXTS = 1 << 12
MAX_DENSE_ENTRIES = 1 << 24
MAX_GRID_SEQUENCES = 1 << 20  # target evaluations K^{dL} of construct_universal


UNCAPPED_SIZE = 1 << 65536  # sizes from grid_sizes reach 2^1075 (eps = 5e-324)
MAX_LOG2_BITS = 40  # precision_needed refuses sizes needing more than 2^40 significand bits


def check_grid(d: object, L: object, K: object, Q: object) -> tuple[int, int, int, int]:
    """The sizes as ints: ``d, L, K >= 1`` and ``Q`` a power of two ``>= 2`` (named errors).

    >>> from reference.constructions.sizes import check_grid
    >>> check_grid(1, 2, 4, 4)
    (1, 2, 4, 4)
    """
    d, L = positive_int("d", d), positive_int("L", L)
    # K and Q come from grid_sizes (up to 2^1075); callers compare sizes in logarithms
    K = positive_int("K", K, maximum=UNCAPPED_SIZE)
    Q = positive_int("Q", Q, minimum=2, maximum=UNCAPPED_SIZE)
    log2_levels(Q)
    return d, L, K, Q


def power_of_two_at_least(value: float | Fraction, *, minimum_exponent: int = 1) -> int:
    """Smallest ``2^k >= value`` with ``k >= minimum_exponent`` (exact for dyadic inputs).

    >>> from reference.constructions.sizes import power_of_two_at_least
    >>> power_of_two_at_least(5.0), power_of_two_at_least(0.3), power_of_two_at_least(8)
    (8, 2, 8)
    """
    frac = Fraction(value)
    k = minimum_exponent
    while Fraction(2) ** k < frac:
        k += 1
    return 1 << k


def band_width(eps: float, d: int, L: int, K: int) -> Fraction:
    """Default band half-width ``η = 2^⌊log2(ε / (2 d L K))⌋``: band measure ``<= 2dLηK <= ε``.

    >>> from reference.constructions.sizes import band_width
    >>> band_width(0.25, 1, 1, 4)
    Fraction(1, 32)
    """
    exact = Fraction(eps) if isinstance(eps, (int, float, Fraction)) else Fraction(float(eps))
    ratio = 2 * d * L * K / exact  # float() first for numpy scalars (exact for them too)
    return Fraction(1, power_of_two_at_least(ratio, minimum_exponent=0))


def log2_levels(Q: int) -> int:
    """``log2 Q`` for the power of two ``Q`` (packing and unpacking are exact only then).

    >>> from reference.constructions.sizes import log2_levels
    >>> log2_levels(16)
    4
    """
    if Q < 2 or Q & (Q - 1):
        raise ValueError(f"Q: expected a power of two >= 2, got {Q}")
    return Q.bit_length() - 1


def contexts(d: int, L: int, K: int) -> int:
    """Number of contexts of one token, ``T = K^{d(L−1)}`` (cells of the other tokens)."""
    return K ** (d * (L - 1))


def inverse_temperature(d: int, L: int, K: int, Q: int) -> int:
    """``β = 2^⌈log2(ln 2 · (T log2 Q + 5 + log2(L K^d)))⌉``.

    Then the ``L K^d`` non-matching prompt rows move the packed table by at most
    ``2 L K^d e^{−β} <= 2^{−(T log2 Q + 4)}`` (relative).

    >>> from reference.constructions.sizes import inverse_temperature
    >>> inverse_temperature(1, 2, 4, 4)
    16
    """
    q = log2_levels(Q)
    needed = math.log(2) * (contexts(d, L, K) * q + 5 + math.log2(L * K**d))
    return power_of_two_at_least(needed, minimum_exponent=0)


def dyadic_power(name: str, value: Fraction) -> int:
    """``k`` with ``value = 2^{-k}`` (``k >= 1``); a named error for anything else.

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import dyadic_power
    >>> dyadic_power("band", Fraction(1, 32))
    5
    """
    value = Fraction(value)
    den = value.denominator
    if value.numerator != 1 or den < 2 or den & (den - 1):
        raise ValueError(f"{name}: expected a power of two 2^-k (k >= 1), got {float(value)!r}")
    return den.bit_length() - 1


def quantizer_ramp(eta: Fraction, K: int, j: int) -> tuple[Fraction, Fraction]:
    """Slope ``s = 1/(2η)`` and bias ``1/2 − j s/K`` of the deep and wide models' ``FFN_in`` ramp
    at the boundary ``j/K`` (:func:`reference.constructions.layout._ffn_in_spec` builds its ramp
    units from this; ``tests/universality/test_precision.py`` reads them back off the spec).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import quantizer_ramp
    >>> quantizer_ramp(Fraction(1, 32), 4, 1)
    (Fraction(16, 1), Fraction(-7, 2))
    """
    s = 1 / (2 * Fraction(eta))
    return s, Fraction(1, 2) - s * Fraction(j, K)


def preactivation_bits(weights: list[Fraction], bias: Fraction) -> int:
    """Significand bits that hold every partial sum of ``Σ_c w_c h_c + bias`` for inputs
    ``h_c ∈ [0, 1]``: its magnitude is ``<= B = Σ|w_c| + |bias|`` in any order of summation, and
    the bias has resolution ``2^{−ν}`` (its denominator), so ``⌈log2 B⌉ + ν`` bits (dyadic
    weights and bias; docs/universality.md, "Precision of the quantizer").

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import preactivation_bits
    >>> preactivation_bits([Fraction(16), Fraction(1)], Fraction(-23, 2))
    6
    """
    total = sum((abs(Fraction(w)) for w in weights), Fraction(0)) + abs(Fraction(bias))
    den = Fraction(bias).denominator
    if den & (den - 1):
        raise ValueError(f"bias: expected a dyadic rational, got {bias}")
    ceil_log2 = (math.ceil(total) - 1).bit_length() if total > 1 else 0
    return ceil_log2 + den.bit_length() - 1


def band_bits(eta: Fraction, K: int, decoder: str = "deep") -> int:
    """Bits the first ``FFN_in`` layer needs, read off its units' weights and biases
    (:func:`preactivation_bits` of every ramp): with them the bias and every threshold input
    ``j/K ± η`` are exact, so by monotone rounding the ramp is ``<= 0`` below the band and
    ``>= 1`` above it, and the clamp ``g − (g − 1)`` is exact (``g < 2^p``). Deep and wide:
    ramps ``(s, flag −1, 1/2 − js/K)``, ``s = 1/(2η)``, giving ``log2(1/η) + 1``; shallow: two
    units ``(s, s, 1/2 − js/K − s)`` and the same bias minus 1, ``s = 2^⌈log2(1/η)⌉``.

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import band_bits
    >>> band_bits(Fraction(1, 2**30), 4), band_bits(Fraction(1, 32), 4, "shallow")
    (31, 8)
    """
    dyadic_power("band", eta)
    if decoder == "shallow":
        s = Fraction(shallow_slope(eta))
        units = [
            ([s, s], shallow_ramp_bias(eta, K, j) - extra) for j in range(1, K) for extra in (0, 1)
        ]
    else:
        units = [
            ([quantizer_ramp(eta, K, j)[0], Fraction(1)], quantizer_ramp(eta, K, j)[1])
            for j in range(1, K)
        ]
    return max(preactivation_bits(w, b) for w, b in units)


def precision_needed(d: int, L: int, K: int, Q: int, eta: Fraction | None = None) -> int:
    """Significand bits the deep and wide models need: ``max(T log2 Q + 6, log2 β +
    2⌈log2(L K^d)⌉ + 2, band_bits(η))``.

    The first term: the packed table (``T log2 Q + 1`` bits) reaches ``FFN_out`` with relative
    error ``<= 3·2^{−p} + 2 L K^d e^{−β}``, which must stay below ``2^{−(T log2 Q + 3)}`` (a
    quarter of the last digit's margin, amplified by ``Q`` per extracted digit); the second
    keeps the attention logits exact integers; the third (:func:`band_bits`) keeps the
    quantizer ramps of slope ``1/(2η)`` exact. Every construction passes its band ``eta``;
    ``eta=None`` leaves the band term out (the table and logit terms only).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import precision_needed
    >>> [precision_needed(1, 2, 4, 4, Fraction(1, 2**k)) for k in (5, 30)]
    [14, 31]
    """
    d, L, K, Q = check_grid(d, L, K, Q)
    log2_bits = d * (L - 1) * math.log2(K) + math.log2(math.log2(Q))  # log2(T log2 Q)
    log2_bits = max(log2_bits, math.log2(L) + d * math.log2(K))  # and log2(L K^d)
    if log2_bits > MAX_LOG2_BITS:
        raise ValueError(
            f"d, L, K, Q: the construction would need about 2^{log2_bits:.4g} significand bits "
            f"(more than 2^{MAX_LOG2_BITS}; d={d}, L={L}, K={K}, Q={Q}): use smaller sizes"
        )
    q = log2_levels(Q)
    beta_bits = inverse_temperature(d, L, K, Q).bit_length() - 1
    n_bits = math.ceil(math.log2(L * K**d))
    band = 0 if eta is None else band_bits(eta, K)
    return max(contexts(d, L, K) * q + GUARD_BITS, beta_bits + 2 * n_bits + 2, band)


def decoder_ramps(d: int, L: int, K: int, Q: int, decoder: str = "deep") -> int:
    """Ramp units (= step coordinates) of the decoder: ``d(Q−1)`` for the deep decoder (reused
    per digit), ``d Σ_{t<T} (Q^{t+1} − 1) = d(Q(Q^T − 1)/(Q − 1) − T)`` for the wide one.

    >>> from reference.constructions.sizes import decoder_ramps
    >>> decoder_ramps(1, 2, 2, 4), decoder_ramps(1, 2, 2, 4, "wide")
    (3, 18)
    """
    if decoder == "deep":
        return d * (Q - 1)
    T = contexts(d, L, K)
    return d * (Q * (Q**T - 1) // (Q - 1) - T)


# ------------------------------------------------------------------ the shallow model's sizes
def shallow_tie_rows(L: int) -> int:
    """Rows sharing the top attention score in the shallow model: ``n = 2^⌈log2(L + 1)⌉`` (the
    matching prompt row, the ``L`` input rows and ``n − L − 1`` constant pad rows), a power of
    two so that the weights ``1/n`` and the products by ``n`` are exact in binary arithmetic.

    >>> from reference.constructions.sizes import shallow_tie_rows
    >>> [shallow_tie_rows(L) for L in (1, 2, 3, 4)]
    [2, 4, 4, 8]
    """
    return power_of_two_at_least(L + 1, minimum_exponent=1)


def shallow_prompt_rows(d: int, L: int, K: int) -> int:
    """Prompt rows of the shallow model: ``L K^d + n − L − 1`` (``n``: :func:`shallow_tie_rows`).

    >>> from reference.constructions.sizes import shallow_prompt_rows
    >>> shallow_prompt_rows(1, 2, 4)
    9
    """
    return L * K**d + shallow_tie_rows(L) - L - 1


def shallow_inverse_temperature(d: int, L: int, K: int, Q: int, precision_bits: int) -> int:
    """``β = 2^⌈log2(ln 2 · (p + T log2 Q + 3 + log2 Lp))⌉`` at ``p`` significand bits.

    Then the off-match attention mass ``Lp e^{−β} < 2^{−(p + T log2 Q + 3)}`` is absorbed by
    rounding: the attention output is exactly the hard average (docs/universality.md).

    >>> from reference.constructions.sizes import shallow_inverse_temperature
    >>> shallow_inverse_temperature(1, 2, 4, 4, 53)
    64
    """
    q = log2_levels(Q)
    rows = shallow_prompt_rows(d, L, K)
    needed = math.log(2) * (precision_bits + contexts(d, L, K) * q + 3 + math.log2(rows))
    return power_of_two_at_least(needed, minimum_exponent=0)


def shallow_precision_terms(d: int, L: int, K: int, Q: int, eta: Fraction) -> dict[str, int]:
    """The bit requirements of the shallow model that do not depend on ``β``.

    ``decoder``: partial sums of the output column ``< 4 Q^{2T+1}`` (``2T log2 Q + log2 Q + 3``);
    ``pre_activation``: ``FFN_out`` pre-activations (:func:`preactivation_bits` of its units:
    ``< 2^{T log2 Q + 3}(N + 2)``, ``N = (L−1)d(K−1)``, half-integers);
    ``ffn_in``: the gated-step ramps of slope ``s = 2^⌈log2(1/η)⌉`` (:func:`band_bits`).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_precision_terms
    >>> shallow_precision_terms(1, 2, 4, 4, Fraction(1, 32))
    {'decoder': 21, 'pre_activation': 15, 'ffn_in': 8}
    """
    q, T = log2_levels(Q), contexts(d, L, K)
    gate_terms = (L - 1) * d * (K - 1)
    return {
        "decoder": 2 * T * q + q + 3,
        "pre_activation": T * q + 4 + (gate_terms + 1).bit_length(),
        "ffn_in": band_bits(eta, K, "shallow"),
    }


def shallow_slope(eta: Fraction) -> int:
    """Slope ``s = 2^⌈log2(1/η)⌉`` of the shallow model's quantizer ramps (``1/s <= η``).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_slope
    >>> shallow_slope(Fraction(1, 32)), shallow_slope(Fraction(1, 48))
    (32, 64)
    """
    return power_of_two_at_least(1 / Fraction(eta), minimum_exponent=0)


def shallow_ramp_bias(eta: Fraction, K: int, j: int) -> Fraction:
    """Bias ``1/2 − j s/K − s`` of the shallow model's first gated-step unit at ``j/K`` (the
    second unit's is one less; :mod:`reference.constructions.decoders.shallow` builds from it).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_ramp_bias
    >>> shallow_ramp_bias(Fraction(1, 32), 4, 1)
    Fraction(-79, 2)
    """
    s = Fraction(shallow_slope(eta))
    return Fraction(1, 2) - s * Fraction(j, K) - s


def shallow_logit_bits(d: int, K: int, beta: int) -> int:
    """Bits that keep the shallow model's attention logits (and their differences) exact:
    ``log2 β + 1 + ⌈log2(3d(K−1)² + 1)⌉``.

    >>> from reference.constructions.sizes import shallow_logit_bits
    >>> shallow_logit_bits(1, 4, 64)
    12
    """
    return beta.bit_length() - 1 + 1 + (3 * d * (K - 1) ** 2).bit_length()


def shallow_precision_needed(d: int, L: int, K: int, Q: int, eta: Fraction) -> int:
    """Smallest ``p`` meeting every requirement of the shallow model, β taken at ``p`` itself.

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_precision_needed
    >>> shallow_precision_needed(1, 2, 4, 4, Fraction(1, 32))
    21
    """
    p = max(shallow_precision_terms(d, L, K, Q, eta).values())
    while p < shallow_logit_bits(d, K, shallow_inverse_temperature(d, L, K, Q, p)):
        p += 1
    return p


def decoder_precision_needed(
    d: int, L: int, K: int, Q: int, decoder: str = "deep", eta: Fraction | None = None
) -> int:
    """:func:`precision_needed` for the deep and wide decoders, the shallow model's otherwise.

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import decoder_precision_needed
    >>> eta = Fraction(1, 32)
    >>> decoder_precision_needed(1, 2, 4, 4, "deep", eta), decoder_precision_needed(1, 2, 4, 4,
    ...                                                                         "shallow", eta)
    (14, 21)
    """
    if eta is None:
        raise ValueError("eta: the precision depends on the band, got None")
    if decoder != "shallow":
        return precision_needed(d, L, K, Q, eta)
    return shallow_precision_needed(d, L, K, Q, eta)


def check_band_precision(
    backend: str, precision_bits: int | None, eta: Fraction, K: int, decoder: str = "deep"
) -> None:
    """Refuse, naming ``band``, a band whose quantizer ramps alone need more bits than the
    backend has (:func:`band_bits`); the exact backend and mpmath's default precision fit any.

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import check_band_precision
    >>> check_band_precision("float64", None, Fraction(1, 2**40), 4)
    >>> try:
    ...     check_band_precision("float64", None, Fraction(1, 2**60), 4)
    ... except ValueError as err:
    ...     print(str(err)[:61])
    band: 8.673617379884035e-19 needs 61 significand bits for the
    """
    if backend == "exact" or (backend != "float64" and precision_bits is None):
        return
    bits = FLOAT64_BITS if backend == "float64" else positive_int("precision_bits", precision_bits)
    needed = band_bits(eta, K, decoder)
    if bits < needed:
        raise ValueError(
            f"band: {float(eta)!r} needs {needed} significand bits for the quantizer ramps "
            f"(slope 1/(2η)), more than the {bits} of backend {backend!r}; use a larger band, "
            f"or backend='exact'"
        )


def resolve_precision(
    backend: str,
    precision_bits: int | None,
    needed: int,
    *,
    check_precision: bool,
    decoder: str = "deep",
) -> int:
    """The precision to build at; raises if it is short of ``needed`` (unless told not to),
    pointing to the exact backend (no rounding) for the deep and wide decoders.

    >>> from reference.constructions.sizes import resolve_precision
    >>> resolve_precision("mpmath", None, 31, check_precision=True)
    39
    >>> try:
    ...     resolve_precision("float64", None, 60, check_precision=True)
    ... except ValueError as err:
    ...     print(str(err)[:94])
    backend: 'float64' at 53 significand bits lacks the precision this construction needs (60 bits
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "exact":  # exact rational arithmetic: no rounding, any size the time allows
        if precision_bits is not None:
            raise ValueError(
                f"precision_bits: the exact backend does not round, got {precision_bits}"
            )
        return needed
    if backend == "float64":
        if precision_bits not in (None, FLOAT64_BITS):
            raise ValueError(
                f"precision_bits: the float64 backend has {FLOAT64_BITS} bits, got {precision_bits}"
            )
        bits = FLOAT64_BITS
    else:
        bits = (
            needed + MPMATH_EXTRA_BITS
            if precision_bits is None
            else positive_int("precision_bits", precision_bits)
        )
    if check_precision and bits < needed:
        instead = (
            f"backend='mpmath' with precision_bits >= {needed}"
            if decoder == "shallow"
            else f"backend='exact' (no rounding, no dense weights; fastest) or backend='mpmath' "
            f"with precision_bits >= {needed}"
        )
        raise ValueError(
            f"backend: {backend!r} at {bits} significand bits lacks the precision this "
            f"construction needs ({needed} bits, see precision_needed); use {instead}, or "
            f"check_precision=False to build it anyway (it will be wrong)"
        )
    return bits
