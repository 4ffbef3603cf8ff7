"""Universality witness: one frozen transformer, one prompt per Lipschitz target (theory.md §3).

:func:`construct_universal` builds the lookup transformer of
:mod:`reference.constructions.lookup` for ``K = 2^⌈log2(C/ε)⌉`` cells per coordinate and
``Q = 2^⌈log2(1/ε)⌉`` output levels (both at least 2), and fills the prompt with the quantized
target at the cell centers. On inputs off the band,
``‖τ([P_f; X]) − f(X)‖_max <= C/(2K) + 1/(2Q) <= ε``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from reference._validation import open_unit_interval, positive_float, positive_int
from reference.constructions.construction import Construction
from reference.constructions.limits import check_sizes
from reference.constructions.lookup import build_lookup, check_backend_decoder
from reference.constructions.packing import cell_centers, digit_table, grid_cells
from reference.constructions.sizes import (
    BACKENDS,
    DECODERS,
    band_width,
    check_band_precision,
    decoder_precision_needed,
    power_of_two_at_least,
    resolve_precision,
)

#: The public API (quantize_levels and target_table are steps of construct_universal, called with
#: checked sizes).
__all__ = ["construct_universal", "grid_sizes"]


def grid_sizes(eps: float, lipschitz: float) -> tuple[int, int]:
    """``(K, Q)``: powers of two with ``K >= C/ε`` and ``Q >= 1/ε`` (each at least 2).

    >>> from reference.constructions.universality import grid_sizes
    >>> grid_sizes(0.1, 1.0)
    (16, 16)
    """
    eps = open_unit_interval("eps", eps)
    lipschitz = positive_float("lipschitz", lipschitz)
    cells, levels = lipschitz / eps, 1 / eps
    if not (math.isfinite(cells) and math.isfinite(levels)):
        raise ValueError(
            f"eps, lipschitz: lipschitz / eps = {lipschitz} / {eps} or 1 / eps overflows the "
            "float range"
        )
    return power_of_two_at_least(cells), power_of_two_at_least(levels)


def quantize_levels(values: np.ndarray, Q: int) -> np.ndarray:
    """Output level ``min(⌊Q v⌋, Q − 1)`` of values in ``[0, 1]``; level ``a`` decodes to
    ``(a + 1/2)/Q``, within ``1/(2Q)`` of ``v``.

    >>> import numpy as np
    >>> from reference.constructions.universality import quantize_levels
    >>> quantize_levels(np.array([0.0, 0.5, 1.0]), 4).tolist()
    [0, 2, 3]
    """
    return np.clip(np.floor(values * Q), 0, Q - 1).astype(np.int64)


def _evaluate_target(f: Callable, x: np.ndarray, L: int, d: int) -> np.ndarray:
    try:
        y = f(x)
    except Exception as exc:  # the caller's function: its failure is reported as the argument's
        raise ValueError(
            f"f: the target raised {type(exc).__name__} at X = {x.tolist()}: {exc}"
        ) from exc
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"f: expected f(X) to return an array of shape ({L}, {d}), got {type(y).__name__}"
        ) from exc
    real = y.dtype.kind in "fiu" or (
        y.dtype == object and all(isinstance(v, numbers.Real) for v in y.flat)
    )
    if not real or y.dtype.kind == "b":
        raise TypeError(
            f"f: expected f(X) to return real numbers of shape ({L}, {d}), got dtype {y.dtype}"
        )
    if y.shape != (L, d):
        raise ValueError(f"f: expected f(X) of shape ({L}, {d}), got shape {y.shape}")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)) or y.min() < 0 or y.max() > 1:
        raise ValueError(
            f"f: expected values in [0, 1], got range [{np.min(y)}, {np.max(y)}] at X = "
            f"{x.tolist()}"
        )
    return y


def target_table(f: Callable, *, d: int, L: int, K: int, Q: int) -> np.ndarray:
    """Digit table ``(L K^d, T, d)`` of ``f`` quantized at every grid sequence's cell centers.

    >>> from reference.constructions.universality import target_table
    >>> target_table(lambda x: x, d=1, L=1, K=2, Q=4).ravel().tolist()
    [1, 3]
    """
    cells = grid_cells(d, L, K)  # (S, L)
    centers = cell_centers(cells, d, K)  # (S, L, d)
    values = np.empty_like(centers)  # (S, L, d)
    for s in range(cells.shape[0]):
        values[s] = _evaluate_target(f, centers[s], L, d)
    return digit_table(cells, quantize_levels(values, Q), d, L, K)  # (Lp, T, d)


def construct_universal(
    f: Callable[[np.ndarray], np.ndarray],
    *,
    d: int,
    L: int,
    lipschitz: float,
    eps: float,
    backend: str = "float64",
    precision_bits: int | None = None,
    decoder: str = "deep",
    check_precision: bool = True,
    band: float | None = None,
) -> Construction:
    """The fixed transformer for ``(d, L, ε, C)`` and the prompt realising ``f`` within ``ε``
    OFF THE BAND: on inputs whose coordinates lie at distance ``>= band`` from the cell
    boundaries ``j/K`` (a set of measure ``>= 1 − ε``; ``c.off_band(x)`` is the mask). In the band
    a token may be read as its neighbour cell and the error can reach the whole range;
    ``c.forward`` warns there (:class:`reference.constructions.lookup.BandWarning`).

    Args:
        f: maps one ``(L, d)`` array in ``[0,1]`` to one ``(L, d)`` array in ``[0,1]`` and is
            ``lipschitz``-Lipschitz in the max norm (the bound relies on it; it is not checked).
        d, L: token width and sequence length.
        lipschitz: the constant ``C > 0``; ``eps``: the accuracy, in ``(0, 1)``.
        backend: ``"float64"``, ``"mpmath"`` (object arrays of ``mpmath.mpf`` at
            ``precision_bits``, default: the needed bits + ``MPMATH_EXTRA_BITS``) or
            ``"exact"`` (no dense weights: ``forward`` evaluates the exact rational spec with a
            certified softmax enclosure, :mod:`reference.constructions.exact`; deep and wide
            decoders).
        decoder: ``"deep"`` (two ``FFN_out`` layers per digit, width ``O(dQ)``, depth
            ``2T + 2``), ``"wide"`` (four layers, width ``d Σ_t (Q^{t+1} − 1)``, exponential
            in ``T = K^{d(L−1)}``) or ``"shallow"`` (the paper's shape: ONE FFN layer before
            the attention and ONE after it, ``FFN_out`` width ``2L d Σ_t (Q^{t+1} − 1)``; see
            docs/universality.md); the wide and shallow models are refused when too large.
        check_precision: refuse (before any allocation) a backend with fewer bits than needed;
            ``False`` builds it anyway, to exhibit the precision phase transition.
        band: half-width ``η`` of the boundary band (default ``2^⌊log2(ε/(2dLK))⌋``, so the band
            has measure ``<= ε``); must be a power of two below ``1/(2K)``.

    The model depends on ``(d, L, ε, C, backend, band)`` only; ``f`` enters the prompt only.

    >>> import numpy as np
    >>> from reference.constructions.universality import construct_universal
    >>> c = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)
    >>> (c.K, c.Q, c.prompt_rows), c.forward(np.array([[0.3]])).tolist()
    ((4, 4, 4), [[0.375]])
    """
    if not callable(f):
        raise TypeError(f"f: expected a callable, got {type(f).__name__}")
    d = positive_int("d", d)
    L = positive_int("L", L)
    K, Q = grid_sizes(eps, lipschitz)
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    backend, decoder = str(backend), str(decoder)  # numpy strings become plain ones
    check_sizes(d, L, K, Q, decoder, backend=backend)
    eta = band_width(eps, d, L, K) if band is None else Fraction(positive_float("band", band))
    if eta >= Fraction(1, 2 * K) or eta.numerator != 1 or eta.denominator & (eta.denominator - 1):
        raise ValueError(f"band: expected a power of two below 1/(2K) = {1 / (2 * K)}, got {band}")
    if check_precision:
        check_band_precision(backend, precision_bits, eta, K, decoder)
    needed = decoder_precision_needed(d, L, K, Q, decoder, eta)
    bits = resolve_precision(
        backend, precision_bits, needed, check_precision=check_precision, decoder=decoder
    )
    check_backend_decoder(backend, decoder)
    first = cell_centers(np.zeros(L, dtype=np.int64), d, K)  # (L, d): cheap shape/range check
    _evaluate_target(f, first, L, d)
    digits = target_table(f, d=d, L=L, K=K, Q=Q)
    bound = float(lipschitz) / (2 * K) + 1 / (2 * Q)
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
        error_bound=bound,
        lipschitz=float(lipschitz),
        eps=float(eps),
        decoder=decoder,
    )
