"""Memorization witness: a prompt for the lookup transformer that reproduces a finite dataset.

A dataset ``xs (N, L, d)``, ``ys (N, L, d)`` (values in ``[0, 1]``) is **δ-token-separated** when

1. its ``N`` input sequences are pairwise distinct, and
2. any two tokens of it (any sequences, any positions) are equal or differ by ``>= δ`` in the
   max norm.

With ``K = 2^⌈log2(1/δ)⌉`` cells per coordinate (so ``1/K <= δ``) distinct tokens fall in distinct
grid cells, hence distinct sequences in distinct cell sequences. The construction also needs
every token coordinate at distance ``>= η`` (the band) from the interior cell boundaries ``j/K``,
where its quantizer is exact; datasets violating any of this are rejected before anything is
allocated. The prompt then stores ``min(⌊Q y⌋, Q − 1)`` for every token of every sequence
(other grid contexts hold level 0), so every output token is within ``1/(2Q) < ε`` of its target.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from reference._validation import as_array, open_unit_interval, positive_float
from reference.constructions.construction import Construction
from reference.constructions.limits import check_sizes
from reference.constructions.lookup import build_lookup, check_backend_decoder
from reference.constructions.packing import cell_coordinates, digit_table, flatten_cells, in_band
from reference.constructions.sizes import (
    BACKENDS,
    DECODERS,
    check_band_precision,
    decoder_precision_needed,
    power_of_two_at_least,
    resolve_precision,
)
from reference.constructions.universality import quantize_levels

#: The public API (the rest are the memorizer's internal steps, called with checked arguments).
__all__ = ["construct_memorizer", "min_token_separation"]

DEFAULT_MEMORIZER_BAND = Fraction(1, 1 << 30)
#: Relative tolerance of the separation test ``K δ >= 1`` (float rounding of a difference).
SEPARATION_RTOL = 2.0**-40


def min_token_separation(xs: np.ndarray) -> float:
    """Smallest max-norm distance between two distinct tokens of ``xs (N, L, d)``.

    >>> import numpy as np
    >>> from reference.constructions.memorization import min_token_separation
    >>> min_token_separation(np.array([[[0.1], [0.4]], [[0.1], [0.2]]]))
    0.1
    """
    xs = as_array("xs", xs, ndim=3)
    if xs.shape[-1] == 0:
        raise ValueError(f"xs: expected tokens of width d >= 1, got shape {xs.shape}")
    with np.errstate(over="raise"):
        try:
            gap = _token_gap(xs)
        except FloatingPointError:
            raise ValueError("xs: token differences overflow the float range") from None
    if not np.isfinite(gap):
        raise ValueError(f"xs: expected at least two distinct tokens, got shape {xs.shape}")
    return gap


def _token_gap(xs: np.ndarray) -> float:
    """:func:`min_token_separation` of a validated ``xs``; inf if it has one distinct token."""
    tokens = np.unique(xs.reshape(-1, xs.shape[-1]), axis=0)  # (n, d)
    if tokens.shape[0] < 2:
        return float("inf")
    best = np.inf
    for i in range(tokens.shape[0] - 1):
        gaps = np.abs(tokens[i + 1 :] - tokens[i]).max(axis=1)  # (n - i - 1,)
        best = min(best, float(gaps.min()))
    return best


def _check_dataset(xs: np.ndarray, ys: np.ndarray, separation: float) -> float:
    """Validate the dataset; return its smallest token separation."""
    if xs.shape != ys.shape:
        raise ValueError(f"ys: expected the shape of xs {xs.shape}, got {ys.shape}")
    if xs.shape[0] == 0 or xs.shape[1] == 0 or xs.shape[2] == 0:
        raise ValueError(f"xs: expected a non-empty dataset (N, L, d), got shape {xs.shape}")
    for name, arr in (("xs", xs), ("ys", ys)):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"{name}: expected values in [0, 1], got range [{arr.min()}, {arr.max()}]"
            )
    flat = xs.reshape(xs.shape[0], -1)  # (N, L·d)
    uniq, counts = np.unique(flat, axis=0, return_counts=True)
    if uniq.shape[0] < flat.shape[0]:
        dup = int(np.argmax(counts > 1))
        twins = np.flatnonzero((flat == uniq[dup]).all(axis=1)).tolist()
        raise ValueError(
            f"xs: expected distinct input sequences, got duplicates at indices {twins}"
        )
    gap = _token_gap(xs)
    if gap < separation * (1 - SEPARATION_RTOL):
        raise ValueError(
            f"xs: expected a token-separated dataset (distinct tokens at max-norm distance "
            f">= separation = {separation}), got two tokens at distance {gap}"
        )
    return gap


def cells_for_separation(separation: float) -> int:
    """``K = 2^⌈log2(1/δ)⌉`` (at least 2), with ``K δ >= 1`` compared up to a relative
    ``SEPARATION_RTOL``: a separation rounded just below ``1/K`` (``0.35 − 0.1 < 0.25`` in
    binary) does not double ``K``. :func:`construct_memorizer` then checks that distinct tokens
    fall in distinct cells, exactly.

    >>> from reference.constructions.memorization import cells_for_separation
    >>> cells_for_separation(0.35 - 0.1), cells_for_separation(0.25), cells_for_separation(0.2)
    (4, 4, 8)
    """
    K = 2
    while K * separation < 1 - SEPARATION_RTOL:
        K *= 2
    return K


def _check_distinct_cells(xs: np.ndarray, K: int, separation: float) -> None:
    tokens = np.unique(xs.reshape(-1, xs.shape[-1]), axis=0)  # (n, d)
    cells = np.unique(cell_coordinates(tokens, K), axis=0)  # (n', d)
    if cells.shape[0] < tokens.shape[0]:
        raise ValueError(
            f"xs: two distinct tokens fall in one of the K = {K} cells per coordinate chosen "
            f"for separation = {separation}; pass a smaller separation"
        )


def _check_band(xs: np.ndarray, K: int, eta: Fraction) -> None:
    inside = in_band(xs, K, eta)  # (N, L, d)
    if K > 1 and inside.any():
        n, pos, r = (int(i) for i in np.argwhere(inside)[0])
        value = xs[n, pos, r]
        where = f"xs: token {pos} of sequence {n} has coordinate {r} = {value}"
        if float(value) * K == round(float(value) * K):
            raise ValueError(
                f"{where} exactly on the cell boundary {round(value * K)}/{K}: no band excludes "
                f"it; shift the data, or pass a separation giving another K"
            )
        raise ValueError(
            f"{where} within the band η = {float(eta)} of a cell boundary j/{K}; the quantizer "
            f"is exact only off the band (shift the data or pass a smaller band)"
        )


def construct_memorizer(
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    eps: float,
    separation: float | None = None,
    backend: str = "float64",
    precision_bits: int | None = None,
    check_precision: bool = True,
    band: float | None = None,
    decoder: str = "deep",
) -> Construction:
    """A prompt for the lookup transformer that reproduces every output token within ``eps``.

    Args:
        xs, ys: ``(N, L, d)`` inputs and targets, values in ``[0, 1]``.
        eps: accuracy in ``(0, 1)``; ``Q = 2^⌈log2(1/ε)⌉`` output levels, error ``<= 1/(2Q)``.
        separation: ``δ`` of the token-separation assumption (module docstring); the model
            depends on it through ``K = 2^⌈log2(1/δ)⌉``. ``None``: the dataset's own minimum
            distance between distinct tokens (then the model depends on the data through ``K``).
        backend, precision_bits, check_precision: as in :func:`reference.construct_universal`.
        band: the band half-width ``η``, a power of two below ``1/(2K)`` (default ``2^{-30}``;
            the quantizer then needs ``log2(1/η) + 1 = 31`` significand bits, which every
            backend has); tokens must lie off it.
        decoder: ``"deep"``, ``"wide"`` or ``"shallow"``, as in
            :func:`reference.construct_universal`.

    The frozen model depends on ``(d, L, δ, ε, backend, band)`` only; the data enter the prompt.

    >>> import numpy as np
    >>> from reference.constructions.memorization import construct_memorizer
    >>> xs = np.array([[[0.1], [0.6]], [[0.6], [0.1]]])
    >>> ys = np.array([[[0.9], [0.2]], [[0.3], [0.4]]])
    >>> c = construct_memorizer(xs, ys, eps=0.1, separation=0.5)
    >>> bool(np.abs(c.forward(xs) - ys).max() <= c.error_bound)
    True
    """
    xs = as_array("xs", xs, ndim=3)
    ys = as_array("ys", ys, ndim=3)
    eps = open_unit_interval("eps", eps)
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    backend, decoder = str(backend), str(decoder)  # numpy strings become plain ones
    if not math.isfinite(1 / eps):
        raise ValueError(f"eps: expected 1/eps to fit a float (Q = 2^ceil(log2(1/eps))), got {eps}")
    if separation is not None:
        separation = positive_float("separation", separation)
        if not math.isfinite(1 / separation):
            raise ValueError(
                f"separation: expected 1/separation to fit a float (K = "
                f"2^ceil(log2(1/separation))), got {separation}"
            )
    gap = _check_dataset(xs, ys, 0.0 if separation is None else separation)
    if separation is None:
        separation = min(1.0, gap)
    _, L, d = xs.shape
    K = cells_for_separation(separation)
    Q = power_of_two_at_least(1 / eps)
    hint = (
        f"the cells K = {K} come from separation = {separation} (K = 2^ceil(log2(1/separation)))"
        f" and the levels Q = {Q} from eps: pass data with a larger token separation, shorter "
        f"sequences, or a larger eps"
    )
    check_sizes(d, L, K, Q, decoder, hint=hint, backend=backend)
    eta = DEFAULT_MEMORIZER_BAND if band is None else Fraction(positive_float("band", band))
    if eta >= Fraction(1, 2 * K) or eta.numerator != 1 or eta.denominator & (eta.denominator - 1):
        raise ValueError(f"band: expected a power of two below 1/(2K) = {1 / (2 * K)}, got {band}")
    if check_precision:
        check_band_precision(backend, precision_bits, eta, K, decoder)
    needed = decoder_precision_needed(d, L, K, Q, decoder, eta)
    bits = resolve_precision(
        backend, precision_bits, needed, check_precision=check_precision, decoder=decoder
    )
    check_backend_decoder(backend, decoder)
    _check_distinct_cells(xs, K, separation)
    _check_band(xs, K, eta)
    cells = flatten_cells(cell_coordinates(xs, K), K)  # (N, L)
    digits = digit_table(cells, quantize_levels(ys, Q), d, L, K)  # (Lp, T, d)
    return build_lookup(
        digits,
        d=d,
        L=L,
        K=K,
        Q=Q,
        eta=eta,
        backend=backend,
        bits=bits,
        needed=needed,
        error_bound=1 / (2 * Q),
        lipschitz=None,
        eps=eps,
        decoder=decoder,
    )
