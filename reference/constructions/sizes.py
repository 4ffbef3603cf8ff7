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


def precision_needed(d: int, L: int, K: int, Q: int) -> int:
    """Significand bits the construction needs: ``max(T log2 Q + 6, log2 β + 2⌈log2(L K^d)⌉ + 2)``.

    The first term: the packed table (``T log2 Q + 1`` bits) reaches ``FFN_out`` with relative
    error ``<= 3·2^{−p} + 2 L K^d e^{−β}``, which must stay below ``2^{−(T log2 Q + 3)}`` (a
    quarter of the last digit's margin, amplified by ``Q`` per extracted digit); the second
    keeps the attention logits exact integers.

    >>> from reference.constructions.sizes import precision_needed
    >>> precision_needed(1, 2, 4, 4)
    14
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
    return max(contexts(d, L, K) * q + GUARD_BITS, beta_bits + 2 * n_bits + 2)


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
    ``pre_activation``: ``FFN_out`` pre-activations ``< 2^{T log2 Q + 2}(3 + (L−1)d(K−1))``;
    ``ffn_in``: the slope ``1/η`` of the quantizer ramps (``log2(1/η) + 2``).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_precision_terms
    >>> shallow_precision_terms(1, 2, 4, 4, Fraction(1, 32))
    {'decoder': 21, 'pre_activation': 14, 'ffn_in': 7}
    """
    q, T = log2_levels(Q), contexts(d, L, K)
    gate_terms = 3 + (L - 1) * d * (K - 1)
    return {
        "decoder": 2 * T * q + q + 3,
        "pre_activation": T * q + 3 + (gate_terms - 1).bit_length(),
        "ffn_in": shallow_slope(eta).bit_length() + 1,
    }


def shallow_slope(eta: Fraction) -> int:
    """Slope ``s = 2^⌈log2(1/η)⌉`` of the shallow model's quantizer ramps (``1/s <= η``).

    >>> from fractions import Fraction
    >>> from reference.constructions.sizes import shallow_slope
    >>> shallow_slope(Fraction(1, 32)), shallow_slope(Fraction(1, 48))
    (32, 64)
    """
    return power_of_two_at_least(1 / Fraction(eta), minimum_exponent=0)


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
    >>> decoder_precision_needed(1, 2, 4, 4), decoder_precision_needed(1, 2, 4, 4, "shallow",
    ...                                                              Fraction(1, 32))
    (14, 21)
    """
    if decoder != "shallow":
        return precision_needed(d, L, K, Q)
    if eta is None:
        raise ValueError("eta: the shallow model's precision depends on the band, got None")
    return shallow_precision_needed(d, L, K, Q, eta)


def resolve_precision(
    backend: str, precision_bits: int | None, needed: int, *, check_precision: bool
) -> int:
    """The precision to build at; raises if it is short of ``needed`` (unless told not to)."""
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
        raise ValueError(
            f"backend: {backend!r} at {bits} significand bits lacks the precision this "
            f"construction needs ({needed} bits, see precision_needed); use "
            f"backend='mpmath' with precision_bits >= {needed}, or check_precision=False to "
            f"build it anyway (it will be wrong)"
        )
    return bits
