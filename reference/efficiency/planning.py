"""Planning a certified fast attention (theory.md §5): the logit radius, the fit and the cost.

Before anything is computed, :func:`plan` chooses what the polynomial method will do: the
radius ``R`` of the interval ``[-R, R]`` the logits provably occupy (Cauchy–Schwarz,
:func:`guaranteed_radius`, rounded up so fits are reused from the cache, or a declared ``R``
that is never extrapolated), the smallest-degree certified fit of ``exp`` on it
(:func:`reference.efficiency.polyfit.fit_exp`), the rank ``r = C(d + g, g)`` of its features and
the predicted speedup of the cost model (abstract operation counts, mirrored symbolically in
``verify.claims.efficiency.bounds``):

    exact attention   n·m·(2d + 2d_v + EXP_COST)
    polynomial method (n + m)·r·(2(d_v + 1) + 2)

The power-of-two balancing of queries and keys (:func:`balance`, exact) lives here beside the
row norms it uses. The public entry point is :func:`plan`; the radius and cost helpers are its
steps (and those of
:func:`reference.efficiency.polynomial.fast_attention`). Functions with a leading underscore are
the unchecked cores, called with checked arguments.
"""

from __future__ import annotations

import math

import numpy as np

from reference._validation import open_unit_interval, positive_float, positive_int
from reference.efficiency.features import _rank
from reference.efficiency.polyfit import (
    ExpFit,
    FastAttentionRefused,
    _fit_exp,
    _largest_certifiable_radius,
    check_method,
)

#: The public API (the cost and radius helpers are steps of plan and fast_attention, called with
#: checked arguments).
__all__ = ["plan"]

# Cost model in abstract operation counts (mirrored symbolically in
# verify.claims.efficiency.bounds).
EXP_COST = 20.0  # one exp and the softmax bookkeeping per logit, in multiply-add units


def exact_cost(n: int, m: int, d: int, dv: int) -> float:
    """Operation count of exact attention: ``n·m·(2d + 2d_v + EXP_COST)``.

    >>> from reference.efficiency.planning import exact_cost
    >>> exact_cost(2, 3, 1, 1)
    144.0
    """
    return float(n) * m * (2 * d + 2 * dv + EXP_COST)


def polynomial_cost(n: int, m: int, r: int, dv: int) -> float:
    """Operation count of the polynomial method: ``(n + m)·r·(2(d_v + 1) + 2)``.

    >>> from reference.efficiency.planning import polynomial_cost
    >>> polynomial_cost(2, 3, 1, 1)
    30.0
    """
    return float(n + m) * r * (2 * (dv + 1) + 2)


def max_row_norm(a: np.ndarray) -> float:
    """``max_i ‖a_i‖`` over the rows of ``a (n, k)`` (0 for no rows), without overflow for
    entries near the float64 maximum (rows are scaled by the largest entry first).

    >>> import numpy as np
    >>> from reference.efficiency.planning import max_row_norm
    >>> max_row_norm(np.array([[3.0, 4.0], [1.0, 0.0]]))
    5.0
    >>> max_row_norm(np.array([[3e300, 4e300]]))
    5e+300
    """
    if a.size == 0:
        return 0.0
    top = max(float(a.max()), -float(a.min()))  # max |a| without an (n, k) temporary
    if top == 0.0:
        return 0.0
    b = a / top  # (n, k), entries in [-1, 1]
    return top * float(np.sqrt(np.max(np.einsum("ij,ij->i", b, b))))


def guaranteed_radius(q: np.ndarray, k: np.ndarray, scale: float) -> float:
    """``scale · max_i ‖q_i‖ · max_j ‖k_j‖ >= max |scale · q_i·k_j|`` (Cauchy–Schwarz).

    >>> import numpy as np
    >>> from reference.efficiency.planning import guaranteed_radius
    >>> guaranteed_radius(np.array([[3.0, 4.0]]), np.array([[1.0, 0.0]]), 0.5)
    2.5
    """
    return scale * max_row_norm(q) * max_row_norm(k)


def balance(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q·2^a, k·2^-a`` with ``max‖q‖ ≈ max‖k‖`` (exact: a power of two), so the features of
    neither side overflow while the logits are unchanged (``fast_attention`` folds the power of
    two into the features' scale factor instead of copying the inputs).

    >>> import numpy as np
    >>> from reference.efficiency.planning import balance
    >>> qb, kb = balance(np.array([[1e-8]]), np.array([[1e8]]))
    >>> bool(0.5 <= qb[0, 0] / kb[0, 0] <= 2), float(qb[0, 0] * kb[0, 0])
    (True, 1.0)
    """
    a = balance_exponent(max_row_norm(q), max_row_norm(k))
    return np.ldexp(q, a), np.ldexp(k, -a)


def balance_exponent(q_norm: float, k_norm: float) -> int:
    """The ``a`` of :func:`balance`: ``round(½ log2(k_norm/q_norm))``, 0 when either is 0."""
    if q_norm == 0.0 or k_norm == 0.0:
        return 0
    return round(0.5 * (math.log2(k_norm) - math.log2(q_norm)))


def _scaled_rows(x: np.ndarray, root_scale: float, a: int) -> tuple[np.ndarray, float]:
    """Rows and the factor whose product is ``√scale · x · 2^a`` as :func:`balance` then
    ``√scale ·`` compute it (bit for bit): one factor ``√scale·2^a`` when it is a normal float,
    else the rows scaled by ``2^a`` first (a copy)."""
    factor = math.ldexp(root_scale, a)
    if 2.0**-1000 < factor < 2.0**1000:
        return x, factor
    return np.ldexp(x, a), root_scale


def resolve_radius(needed: float, declared: float | None, *, name: str = "R") -> float:
    """The fit radius: ``needed`` rounded up when nothing is declared; else the declared value
    (checked here, named ``name``), refused (never extrapolated) when the inputs need more.

    >>> from reference.efficiency.planning import resolve_radius
    >>> resolve_radius(0.99, 1.0)
    1.0
    >>> resolve_radius(1.5, 1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reference.efficiency.polyfit.FastAttentionRefused: R: inputs need a logit radius ... = 1.5, ...
    """
    if declared is None:
        return _round_up_radius(needed)
    return _declared_radius(needed, positive_float(name, declared), name)


def _declared_radius(needed: float, radius: float, name: str) -> float:
    """A checked declared ``radius`` (named ``name``), refused when the inputs need more."""
    if needed > radius:
        raise FastAttentionRefused(
            f"{name}: inputs need a logit radius scale·max‖q‖·max‖k‖ = {needed:.6g}, above the "
            f"declared {name} = {radius:.6g}; refusing to extrapolate the polynomial"
        )
    return radius


def certifiable_radius(needed: float, declared: float | None, eps: float, name: str = "R") -> float:
    """:func:`resolve_radius`, after refusing (:class:`FastAttentionRefused`) inputs whose
    radius exceeds the largest a float64 fit can certify at ``eps``
    (:func:`reference.efficiency.polyfit.largest_certifiable_radius`).

    >>> from reference.efficiency.planning import certifiable_radius
    >>> certifiable_radius(30.0, None, 1e-3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reference.efficiency.polyfit.FastAttentionRefused: R: inputs need a logit radius ... = 30, ...
    """
    return _certifiable_radius(needed, declared, open_unit_interval("eps", eps), name)


def _certifiable_radius(needed: float, declared: float | None, eps: float, name: str) -> float:
    """:func:`certifiable_radius`, called with a checked ``eps`` (``declared`` is checked by
    :func:`resolve_radius`, only once the inputs' radius is known to be certifiable)."""
    _refuse_uncertifiable(needed, eps, name)
    return resolve_radius(needed, declared, name=name)


def _refuse_uncertifiable(needed: float, eps: float, name: str) -> None:
    """Refuse inputs whose radius ``needed`` exceeds the largest a float64 fit can certify at a
    checked ``eps`` (:class:`FastAttentionRefused` naming ``name``)."""
    limit = _largest_certifiable_radius(eps)
    if needed > limit:
        raise FastAttentionRefused(
            f"{name}: inputs need a logit radius scale·max‖q‖·max‖k‖ = {needed:.6g}, above "
            f"{limit:.6g}, the largest radius a float64 fit can certify at eps = {eps:.3g}"
        )


def round_up_radius(radius: float, digits: int = 3) -> float:
    """``radius`` rounded up to ``digits`` significant digits (so fits are reused from the
    cache), at least ``2^-20``.

    >>> from reference.efficiency.planning import round_up_radius
    >>> round_up_radius(1.0000000000000007)
    1.01
    >>> round_up_radius(1.797e308)  # no rounding up beyond the float64 range
    1.797e+308
    """
    return _round_up_radius(positive_float("radius", radius, allow_zero=True), digits)


def _round_up_radius(radius: float, digits: int = 3) -> float:
    """:func:`round_up_radius`, called with a checked radius (a finite float ``>= 0``)."""
    radius = max(radius, 2.0**-20)
    shift = digits - 1 - math.floor(math.log10(radius))
    unit = 10.0 ** abs(shift)  # finite: |shift| <= 330
    rounded = math.ceil(radius * unit) / unit if shift >= 0 else math.ceil(radius / unit) * unit
    if not math.isfinite(rounded):
        return radius
    return rounded if rounded >= radius else math.nextafter(rounded, math.inf)


def plan(
    n: int,
    m: int,
    d: int,
    dv: int,
    *,
    radius: float,
    eps: float,
    fit_method: str = "minimax",
) -> tuple[ExpFit, int, float]:
    """The fit, the rank and the predicted speedup (exact cost / polynomial cost).

    >>> from reference.efficiency.planning import plan
    >>> fit, r, speedup = plan(1 << 16, 1 << 16, 8, 8, radius=1.0, eps=1e-3)
    >>> (fit.degree, r, speedup > 30)
    (4, 495, True)
    """
    n, m = positive_int("n", n), positive_int("m", m)
    d, dv = positive_int("d", d), positive_int("dv", dv)
    fit_method = check_method(fit_method, "fit_method")
    radius = positive_float("radius", radius)
    eps = open_unit_interval("eps", eps)
    return _plan(n, m, d, dv, radius, eps, fit_method)


def _plan(
    n: int, m: int, d: int, dv: int, radius: float, eps: float, fit_method: str
) -> tuple[ExpFit, int, float]:
    """:func:`plan`, called with checked arguments."""
    fit = _fit_exp(radius, eps, fit_method)
    r = _rank(d, fit.degree)
    return fit, r, exact_cost(n, m, d, dv) / polynomial_cost(n, m, r, dv)
