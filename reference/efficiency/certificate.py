"""The certificate of the polynomial method (theory.md §5; docs/efficiency.md, items 4 and 5).

Per output column, the computed attention ``T`` of
:func:`reference.efficiency.polynomial.fast_attention` satisfies

    |T_i − attention_i| <= ε/(1 − ε) · (max V − min V)/2 + rounding,

``ε`` the fit's certified relative error (:func:`certified_output_bound`, the approximation
term) and ``rounding`` a bound on every float64 rounding of the computed path (features,
``ψ(K)ᵀV``, the rank-``r`` sums, the division) in Higham's standard model
(:func:`rounding_relative`, :func:`rounding_bound`). Both are stated for the values centred per
column (:func:`centred_values`). Not covered: gradual underflow (:data:`NOT_COVERED`).

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
from reference.efficiency.polyfit import UNIT_ROUNDOFF, ExpFit

#: The public API (the rounding helpers are steps of fast_attention and the prompt caches,
#: called with checked arguments).
__all__ = ["certified_output_bound"]

NOT_COVERED = (
    "gradual underflow: the rounding bound uses the float64 standard model, which does not hold "
    "for subnormal intermediates in the feature products"
)


def certified_output_bound(relative_error: float, v_spread: float | np.ndarray) -> np.ndarray:
    """``ε/(1 − ε) · (max V − min V)/2`` for a column whose values span ``v_spread``.

    >>> from reference.efficiency.certificate import certified_output_bound
    >>> float(certified_output_bound(0.5, 2.0))
    1.0
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
        bound = relative_error / (1.0 - relative_error) * np.asarray(spread) / 2.0
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
