"""The certificate of the polynomial method (theory.md §5; docs/efficiency.md, items 4 and 5).

Per output column, the computed attention ``T`` of
:func:`reference.efficiency.polynomial.fast_attention` satisfies

    |T_i − attention_i| <= (max V − min V) · ε/(1 + √(1 − ε²)) + rounding,

``ε`` the fit's certified relative error (:func:`certified_output_bound`, the approximation
term) and ``rounding`` a bound on every float64 rounding of the computed path (features,
``ψ(K)ᵀV``, the rank-``r`` sums, the division) in Higham's standard model
(:func:`rounding_relative`, :func:`rounding_bound`). Both are stated for the values centred per
column (:func:`centred_values`), plus gradual underflow (:func:`underflow_bound`). Not
covered: the rounding of the bound's own evaluation (:data:`NOT_COVERED`).

The public entry point is :func:`certified_output_bound`; the rounding helpers are steps of
``fast_attention`` and the prompt caches. Functions with a leading underscore are the unchecked
cores, called with checked arguments.
"""

from __future__ import annotations

import math

import numpy as np

from reference._validation import (
    MAX_RANK,
    NumericalOverflow,
    as_array,
    check_finite,
    open_unit_interval,
    real_float,
)
from reference.efficiency.polyfit import UNIT_ROUNDOFF, ExpFit, FastAttentionRefused

#: The public API (the rounding helpers are steps of fast_attention and the prompt caches,
#: called with checked arguments).
__all__ = ["certified_output_bound"]

NOT_COVERED = (
    "the rounding of the bound's own float64 evaluation (relative ~1e-16 of the bound); the "
    "model assumes IEEE 754 float64 arithmetic (any summation order, fused or not) in numpy and "
    "the BLAS"
)


def certified_output_bound(relative_error: float, v_spread: float | np.ndarray) -> np.ndarray:
    """``W·ε/(1 + √(1 − ε²))`` (``= W(1 − √(1 − ε²))/ε``, sharp) for a column whose values span
    ``W = v_spread``: the largest error of a weighted mean whose weights carry relative errors in
    ``[−ε, ε]``, reached by two point masses at the column's extremes with opposite errors
    (docs/efficiency.md, item 4). It is below the simpler ``ε/(1 − ε)·W/2``.

    >>> from reference.efficiency.certificate import certified_output_bound
    >>> round(float(certified_output_bound(0.5, 2.0)), 6)  # 2·0.5/(1 + √0.75); simpler: 1.0
    0.535898
    """
    relative_error = open_unit_interval("relative_error", relative_error)
    spread: np.ndarray | np.float64
    if isinstance(v_spread, (np.ndarray, list, tuple)):
        spread = as_array("v_spread", v_spread, ndim=range(MAX_RANK + 1)).astype(np.float64)
    else:
        spread = np.float64(real_float("v_spread", v_spread))
    if spread.size and not (np.all(np.isfinite(spread)) and np.min(spread) >= 0):
        raise ValueError("v_spread: expected finite spreads >= 0 (max V − min V)")
    return _output_bound(relative_error, spread)


def _certified_output_bound(relative_error: float, spread: np.ndarray) -> np.ndarray:
    """:func:`certified_output_bound`, called with a checked relative error in ``(0, 1)`` (a
    fit's) and computed spreads ``>= 0`` ``(d_v,)``; spreads that overflowed float64 are
    refused (``ValueError`` naming ``v_spread``) as the public function refuses them."""
    check_finite("v_spread", spread)
    return _output_bound(relative_error, spread)


def _output_bound(relative_error: float, spread: np.ndarray | np.float64) -> np.ndarray:
    """The bound of checked arguments; :class:`NumericalOverflow` when it overflows."""
    with np.errstate(over="ignore"):
        sharp = relative_error / (1.0 + math.sqrt(1.0 - relative_error * relative_error))
        bound = sharp * np.asarray(spread)
    if not np.all(np.isfinite(bound)):
        raise NumericalOverflow(
            f"relative_error, v_spread: the bound overflows the float range "
            f"(relative_error = {relative_error}, max v_spread = {np.max(spread)})"
        )
    return bound


def rounding_count(degree: int, keys: int, rank_: int) -> int:
    """Roundings on the longest path of one numerator entry: ``6g + m + r + 10``.

    >>> from reference.efficiency.certificate import rounding_count
    >>> rounding_count(4, 100, 35)
    169
    """
    return 6 * degree + keys + rank_ + 10


def rounding_relative(fit: ExpFit, keys: int, rank_: int) -> float:
    """``γ_N · Σ_j |c_j| R^j · e^R / (1 − ε)``: the float64 rounding of the numerators and
    denominators of the computed path relative to the exact denominator (inf when ``N u >= 1``).

    >>> from reference.efficiency.polyfit import fit_exp
    >>> from reference.efficiency.certificate import rounding_relative
    >>> rounding_relative(fit_exp(1.0, 1e-3), 100, 35) < 1e-12
    True
    """
    n_round = rounding_count(fit.degree, keys, rank_)
    if n_round * UNIT_ROUNDOFF >= 1.0:
        return math.inf
    gamma_n = n_round * UNIT_ROUNDOFF / (1.0 - n_round * UNIT_ROUNDOFF)
    abs_poly = math.fsum(abs(c) * fit.radius**j for j, c in enumerate(fit.coefficients))
    return gamma_n * abs_poly * math.exp(fit.radius) / (1.0 - fit.certified_error)


def rounding_bound(relative: float, half_width: np.ndarray, center: np.ndarray) -> np.ndarray:
    """The float64 rounding of the computed output per column ``(d_v,)`` (docs/efficiency.md,
    item 5): ``E1 = 2ηh/(1 − η)`` (numerator and denominator), ``E2 = u(h + E1)`` (the
    division), ``E3 = u(|c| + h + E1 + E2)`` (adding the centre back); ``η`` from
    :func:`rounding_relative`, ``h = max |v − c|``.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import UNIT_ROUNDOFF
    >>> from reference.efficiency.certificate import rounding_bound
    >>> float(rounding_bound(0.0, np.array([1.0]), np.array([0.0]))[0]) == 2 * UNIT_ROUNDOFF
    True
    """
    u = UNIT_ROUNDOFF
    if not relative < 1.0:
        return np.full(np.shape(half_width), np.inf)
    e1 = 2.0 * relative * half_width / (1.0 - relative)
    e2 = u * (half_width + e1)
    e3 = u * (np.abs(center) + half_width + e1 + e2)
    return e1 + e2 + e3


def value_range(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-column mid-range ``c``, spread ``max V − min V`` and ``h >= max |v − c|`` (both
    rounded up by ``2u``), each ``(d_v,)``, of ``v (m, d_v)``, ``m >= 1``, from the column
    extremes alone (no ``(m, d_v)`` temporary: by monotone rounding
    ``max |fl(v − c)| = max(fl(max v − c), fl(c − min v))``). A spread that overflows float64
    is refused (:class:`reference.efficiency.polyfit.FastAttentionRefused` naming ``v``), so
    ``fallback="auto"`` computes such values exactly.

    >>> import numpy as np
    >>> from reference.efficiency.certificate import value_range
    >>> center, spread, half = value_range(np.array([[1.0], [3.0]]))
    >>> center.tolist(), bool(2.0 <= spread[0] < 2.0 + 1e-15 and 1.0 <= half[0] < 1.0 + 1e-15)
    ([2.0], True)
    """
    top, low = v.max(axis=0), v.min(axis=0)  # (dv,)
    center = top / 2 + low / 2  # (dv,), no overflow
    with np.errstate(over="ignore"):
        spread = (top - low) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    if not np.all(np.isfinite(spread)):
        column = int(np.argmin(np.isfinite(spread)))
        raise FastAttentionRefused(
            f"v: the values of column {column} span [{low[column]:.6g}, {top[column]:.6g}], "
            "wider than float64 can represent (rescale v)"
        )
    half = np.maximum(top - center, center - low) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    return center, spread, half


def underflow_bound(
    *,
    relative: float,
    fit: ExpFit,
    keys: int,
    rank_: int,
    phi_weight_max: float,
    log2_query_features: float,
    log2_key_features: float,
    half_width: np.ndarray,
) -> np.ndarray:
    """Gradual underflow of the computed path, per column ``(d_v,)`` (docs/efficiency.md, item
    5): with ``μ = 2^-1075``, every product, quotient or fused multiply-add whose result is
    subnormal errs by at most ``μ`` absolutely (sums and differences are exact there). With
    ``F_q, F_k`` bounds on every query and key feature, ``W² = max_α φ_α²`` and
    ``w = max_α φ_α``, the numerators and the denominator move by at most
    ``δN = 2μ r m [W² F_q (2g F_k h + 1) + ((w + 1) F_q + 1)/m]`` and ``δD`` (the same with
    ``h = 1``), so the output moves by
    ``(δN + (h + E1) δD) / ((1 − ε)(1 − η) m e^{−R} − δD) + μ`` (the last ``μ``: the division),
    returned as ``ldexp(·(1 + 4u), −1075) + 2^-1074`` (its own rounding included). ``inf`` when
    the allowance cannot be certified (a feature bound beyond the float range).

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import fit_exp
    >>> from reference.efficiency.certificate import underflow_bound
    >>> b = underflow_bound(relative=1e-12, fit=fit_exp(1.0, 1e-3), keys=100, rank_=35,
    ...                     phi_weight_max=1.0, log2_query_features=0.0, log2_key_features=0.0,
    ...                     half_width=np.array([1.0]))
    >>> bool(0 < b[0] < 1e-318)
    True
    """
    u = UNIT_ROUNDOFF
    half = np.asarray(half_width, dtype=np.float64)
    if max(log2_query_features, log2_key_features) >= 1000.0 or not relative < 1.0:
        return np.full(half.shape, np.inf)
    f_q, f_k = 2.0**log2_query_features, 2.0**log2_key_features
    w2, w, g, r, m = phi_weight_max**2, phi_weight_max, fit.degree, rank_, keys
    with np.errstate(over="ignore"):
        per_key = ((w + 1.0) * f_q + 1.0) / m
        k_num = 2.0 * r * (w2 * f_q * (2.0 * g * f_k * half + 1.0) + per_key)  # δN / (μ m)
        k_den = 2.0 * r * (w2 * f_q * (2.0 * g * f_k + 1.0) + per_key)  # δD / (μ m)
        e1 = 2.0 * relative * half / (1.0 - relative)
        floor = (1.0 - fit.certified_error) * (1.0 - relative) * math.exp(-fit.radius)
        floor -= math.ldexp(k_den, -1075)  # D_low / m
        units = (k_num + (half + e1) * k_den) / floor * (1.0 + 4.0 * u) + 1.0  # U / μ
    if not (floor > 0.0 and np.all(np.isfinite(units))):
        return np.full(half.shape, np.inf)
    return np.ldexp(units, -1075) + 2.0**-1074


def centred_values(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``v − c`` with ``c`` the per-column mid-range, ``c (d_v,)``, the spread
    ``max − min (d_v,)`` and ``h = max |v − c|`` ``(d_v,)`` (rounded up by ``2u``).

    >>> import numpy as np
    >>> from reference.efficiency.certificate import centred_values
    >>> shifted, center, spread, half = centred_values(np.array([[1.0], [3.0]]))
    >>> shifted.ravel().tolist(), center.tolist(), bool(spread[0] >= 2.0 and half[0] >= 1.0)
    ([-1.0, 1.0], [2.0], True)
    """
    top, low = v.max(axis=0, initial=0.0), v.min(axis=0, initial=0.0)  # (dv,)
    if v.shape[0]:  # otherwise 0: the range [min, max] is widened to hold 0 (conservative)
        top, low = v.max(axis=0), v.min(axis=0)
    center = top / 2 + low / 2  # (dv,), no overflow
    shifted = v - center  # (m, dv)
    spread = (top - low) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    half = np.max(np.abs(shifted), axis=0, initial=0.0) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    return shifted, center, spread, half
