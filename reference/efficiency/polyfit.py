"""Relative-error polynomial fits of ``exp`` on ``[-R, R]`` with a certified error (theory.md §5).

Three methods, all returning monomial coefficients ``c_0..c_g`` (low → high, float64):

* ``"minimax"`` — a relative-error minimax fit by Lawson's iteration (iteratively reweighted least
  squares in the Chebyshev basis of ``u = t / R``, weights ``w_i ← w_i·|p(t_i) e^{-t_i} − 1|``).
* ``"chebyshev"`` — interpolation of ``exp`` at the Chebyshev points of the first kind.
* ``"taylor"`` — the Taylor polynomial ``Σ t^j / j!``.

:func:`fit_exp` returns the smallest degree ``g`` whose **certified** relative error is ``<= eps``.
The certificate (:func:`certify_relative_error`) is an upper bound on
``sup_{t ∈ [-R, R]} |p(t) e^{-t} − 1|`` over the whole interval, not only on grid points: on a
uniform grid ``t_0 < … < t_N`` with spacing ``h``, the error ``e(t) = p(t) e^{-t} − 1`` satisfies
``|e(t)| <= |e(t_i)| + h · sup_{[t_i, t_{i+1}]} |e'|`` on each cell, and
``e'(t) = (p'(t) − p(t)) e^{-t}``, where the polynomial ``s = p' − p`` is bounded on the cell by
its finite Taylor expansion at the left end, ``|s(t_i + τ)| <= Σ_k |s^{(k)}(t_i)| h^k / k!``
(exact for a polynomial), and ``e^{-t} <= e^{-t_i}``. A rounding allowance
``γ_{2g+2} · Σ_j |c_j| R^j · e^R`` with ``γ_k = k u / (1 − k u)``, ``u = 2^{-53}`` (Higham's
bound for Horner's rule in float64, one extra step of slack) is added on top; when this rounding
term alone exceeds ``eps`` no float64 evaluation can be certified and :func:`fit_exp` says so.
The grid has 4096 cells, refined once to 65536 cells when the first certificate lies in
``(eps, 2 eps)`` (skipping a refinement can only raise the chosen degree, never certify less).
Fits never extrapolate: callers must only evaluate ``p`` on ``[-R, R]`` (odd-degree fits turn
negative just beyond ``-R``); a relative error below 1 makes ``p`` positive on the interval.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.polynomial import chebyshev as cheb
from numpy.polynomial import polynomial as poly

from reference._validation import open_unit_interval, positive_float, positive_int

#: The public API (the coefficient and certificate helpers are steps of fit_exp, called with
#: checked arguments; functions with a leading underscore are the unchecked cores).
__all__ = [
    "ExpFit",
    "FastAttentionRefused",
    "fit_exp",
    "largest_certifiable_radius",
    "taylor_coefficients",
]

METHODS = ("minimax", "chebyshev", "taylor")
CERTIFICATE_CELLS = 4096  # uniform cells of the certificate grid (first pass)
REFINED_CELLS = 65536  # second pass when the first certificate is inconclusive
UNIT_ROUNDOFF = 2.0**-53
MAX_DEGREE = 80


class FastAttentionRefused(ValueError):
    """The polynomial method cannot deliver a certified answer within the budget asked for
    (a radius or ``eps`` no float64 fit can certify, features that would overflow, a rank or
    rounding budget exceeded). Every refusal of the method raises this one class, so
    ``fast_attention(..., fallback="auto")`` can fall back on all of them."""


def largest_certifiable_radius(eps: float) -> float:
    """The largest ``R`` at which a float64 fit of relative error ``eps`` can be certified.

    Any fit with relative error ``<= eps`` has ``Σ_j |c_j| R^j >= p(R) >= (1 − eps) e^R``, so its
    rounding allowance (:func:`rounding_allowance`) is at least ``γ_2 (1 − eps) e^{2R}``; this
    exceeds ``eps`` beyond ``R = ½ log(eps / (γ_2 (1 − eps)))``.

    >>> from reference.efficiency.polyfit import largest_certifiable_radius
    >>> round(largest_certifiable_radius(0.5), 2), round(largest_certifiable_radius(1e-3), 2)
    (18.02, 14.57)
    """
    return _largest_certifiable_radius(open_unit_interval("eps", eps))


def _largest_certifiable_radius(eps: float) -> float:
    """:func:`largest_certifiable_radius`, called with a checked ``eps`` in ``(0, 1)``."""
    return 0.5 * math.log(eps / (gamma(2) * (1.0 - eps)))


@dataclass(frozen=True)
class ExpFit:
    """A polynomial ``p(t) = Σ_j c_j t^j`` with ``|p(t) − e^t| <= certified_error · e^t`` on
    ``[-radius, radius]``.

    >>> from reference.efficiency.polyfit import fit_exp
    >>> fit = fit_exp(1.0, 1e-3)
    >>> (fit.degree, fit.certified_error <= 1e-3)
    (4, True)
    """

    degree: int
    coefficients: tuple[float, ...]  # monomial, low -> high
    certified_error: float
    radius: float
    eps: float
    method: str

    @property
    def coeffs(self) -> np.ndarray:
        """The coefficients as a float64 array ``(g + 1,)``, low → high."""
        return np.asarray(self.coefficients, dtype=np.float64)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """``p(t)``; refuses points outside ``[-radius, radius]`` (never extrapolates)."""
        t = np.asarray(t, dtype=np.float64)
        if t.size and np.max(np.abs(t)) > self.radius:
            raise ValueError(
                f"t: expected |t| <= radius = {self.radius}, got max |t| = {np.max(np.abs(t))}"
            )
        return poly.polyval(t, self.coeffs)


def check_method(method: object, name: str = "method") -> str:
    """``method`` if it is one of :data:`METHODS`, else ``ValueError`` naming ``name``.

    >>> from reference.efficiency.polyfit import check_method
    >>> check_method("taylor", "fit_method")
    'taylor'
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{name}: expected one of {METHODS}, got {method!r}")
    return str(method)  # a plain str (not numpy's str_)


def _chebyshev_to_monomial(cheb_coeffs: np.ndarray, radius: float) -> np.ndarray:
    """Coefficients in ``u = t / R`` (Chebyshev basis) → monomial coefficients in ``t``."""
    in_u = cheb.cheb2poly(cheb_coeffs)  # (g+1,) monomial in u
    return in_u / radius ** np.arange(len(in_u))  # (g+1,) monomial in t


def minimax_coefficients(radius: float, degree: int, *, iterations: int = 400) -> np.ndarray:
    """Lawson's iteration for the relative-error minimax fit of ``exp`` of degree ``degree``.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import minimax_coefficients
    >>> from reference.efficiency.polyfit import poly
    >>> c = minimax_coefficients(1.0, 4)
    >>> bool(np.max(np.abs(poly.polyval(np.linspace(-1, 1, 101), c) * np.exp(-np.linspace(
    ...     -1, 1, 101)) - 1)) < 6e-4)
    True
    """
    radius = positive_float("radius", radius)
    degree = positive_int("degree", degree, minimum=0)
    iterations = positive_int("iterations", iterations)
    return _minimax_coefficients(radius, degree, iterations=iterations)


def _minimax_coefficients(radius: float, degree: int, *, iterations: int = 400) -> np.ndarray:
    """:func:`minimax_coefficients`, called with checked arguments (``iterations >= 1``)."""
    m = max(200, 40 * (degree + 1))
    u = np.concatenate([[-1.0], np.cos(np.pi * (np.arange(m) + 0.5) / m), [1.0]])  # (M,)
    t = radius * u  # (M,)
    design = cheb.chebvander(u, degree) * np.exp(-t)[:, None]  # (M, g+1): T_j(u) e^{-t}
    weights = np.full(u.shape, 1.0 / u.size)  # (M,)
    best: np.ndarray | None = None
    best_err, stalled = np.inf, 0
    for _ in range(iterations):
        root_w = np.sqrt(weights)  # (M,)
        a, *_ = np.linalg.lstsq(design * root_w[:, None], root_w, rcond=None)  # (g+1,)
        err = np.abs(design @ a - 1.0)  # (M,)
        worst = float(err.max())
        stalled = stalled + 1 if worst > best_err * (1 - 1e-4) else 0
        if worst < best_err:
            best, best_err = a, worst
        if worst == 0.0 or stalled >= 20:  # converged: no progress for 20 iterations
            break
        weights = weights * err
        weights /= weights.sum()
    assert best is not None  # iterations >= 1 (checked): the first iteration sets it
    return _chebyshev_to_monomial(best, radius)


def chebyshev_coefficients(radius: float, degree: int) -> np.ndarray:
    """Interpolant of ``exp`` at the ``degree + 1`` Chebyshev points of ``[-R, R]`` (monomial).

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import chebyshev_coefficients
    >>> chebyshev_coefficients(1.0, 0).tolist() == [float(np.exp(0.0))]
    True
    """
    radius = positive_float("radius", radius)
    degree = positive_int("degree", degree, minimum=0)
    return _chebyshev_coefficients(radius, degree)


def _chebyshev_coefficients(radius: float, degree: int) -> np.ndarray:
    """:func:`chebyshev_coefficients`, called with checked arguments."""
    # numpy's stub types func as returning a scalar; it is called with the array of points
    a = cheb.chebinterpolate(lambda u: np.exp(radius * u), degree)  # type: ignore[type-var]
    return _chebyshev_to_monomial(a, radius)


def taylor_coefficients(degree: int) -> np.ndarray:
    """``1 / j!`` for ``j = 0..degree``.

    >>> from reference.efficiency.polyfit import taylor_coefficients
    >>> taylor_coefficients(2).tolist()
    [1.0, 1.0, 0.5]
    """
    return _taylor_coefficients(
        positive_int("degree", degree, minimum=0, maximum=MAX_TAYLOR_DEGREE)
    )


MAX_TAYLOR_DEGREE = 1 << 20  # coefficients a Taylor table may hold (8 MiB)
_LAST_NONZERO_TAYLOR = 180  # 1/j! < 2^-1075 (rounds to 0.0) for j > 180


def _taylor_coefficients(degree: int) -> np.ndarray:
    """:func:`taylor_coefficients`, called with a checked ``degree >= 0``: ``1/j!`` (the
    subnormal ones, ``j = 171 … 177``, correctly rounded), exactly 0.0 beyond ``j = 180``."""
    out = np.zeros(degree + 1)  # (g+1,)
    for j in range(min(degree, _LAST_NONZERO_TAYLOR) + 1):
        out[j] = 1.0 / math.factorial(j) if j <= 170 else float(Fraction(1, math.factorial(j)))
    return out


def coefficients(method: str, radius: float, degree: int) -> np.ndarray:
    """Monomial coefficients of the ``method`` fit of degree ``degree`` on ``[-radius, radius]``."""
    method = check_method(method)
    radius = positive_float("radius", radius)
    degree = positive_int("degree", degree, minimum=0)
    return _coefficients(method, radius, degree)


def _coefficients(method: str, radius: float, degree: int) -> np.ndarray:
    """:func:`coefficients`, called with checked arguments."""
    if method == "minimax":
        return _minimax_coefficients(radius, degree)
    if method == "chebyshev":
        return _chebyshev_coefficients(radius, degree)
    return _taylor_coefficients(degree)


def certify_relative_error(
    coeffs: np.ndarray, radius: float, *, cells: int = CERTIFICATE_CELLS
) -> float:
    """An upper bound on ``sup_{|t| <= R} |p(t) e^{-t} − 1|`` (see the module docstring).

    >>> from reference.efficiency.polyfit import certify_relative_error
    >>> from reference.efficiency.polyfit import taylor_coefficients
    >>> bool(certify_relative_error(taylor_coefficients(6), 1.0) < 1e-3)
    True
    """
    radius = positive_float("radius", radius)
    cells = positive_int("cells", cells)
    return _certify_relative_error(coeffs, radius, cells=cells)


def _certify_relative_error(
    coeffs: np.ndarray, radius: float, *, cells: int = CERTIFICATE_CELLS
) -> float:
    """:func:`certify_relative_error`, called with checked arguments."""
    c = np.asarray(coeffs, dtype=np.float64)  # (g+1,)
    t = np.linspace(-radius, radius, cells + 1)  # (N+1,)
    h = 2.0 * radius / cells
    decay = np.exp(-t[:-1])  # (N,) e^{-t_i} >= e^{-t} on cell i
    at_nodes = np.abs(poly.polyval(t, c) * np.exp(-t) - 1.0)  # (N+1,)
    s = poly.polysub(poly.polyder(c), c) if len(c) > 1 else -c  # p' - p
    slope = np.zeros(cells)  # (N,) bound of |s| on each cell
    deriv = s
    for k in range(len(s)):
        slope += np.abs(poly.polyval(t[:-1], deriv)) * h**k / math.factorial(k)
        deriv = poly.polyder(deriv) if len(deriv) > 1 else np.zeros(1)
    per_cell = np.maximum(at_nodes[:-1], at_nodes[1:]) + h * slope * decay  # (N,)
    return float(per_cell.max()) + rounding_allowance(c, radius)


def gamma(k: int) -> float:
    """Higham's ``γ_k = k u / (1 − k u)`` (``u = 2^{-53}``, float64 unit roundoff): the relative
    error bound of ``k`` successive roundings.

    >>> from reference.efficiency.polyfit import UNIT_ROUNDOFF
    >>> from reference.efficiency.polyfit import gamma
    >>> gamma(0), 0 < gamma(2) - 2 * UNIT_ROUNDOFF < 1e-30
    (0.0, True)
    """
    return k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)


def rounding_allowance(coeffs: np.ndarray, radius: float) -> float:
    """``γ_{2g+2} · Σ_j |c_j| R^j · e^R``: float64 rounding of ``p(t)`` relative to ``e^t``.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import rounding_allowance
    >>> rounding_allowance(np.array([1.0]), 1.0) < 1e-15
    True
    """
    c = np.asarray(coeffs, dtype=np.float64)
    magnitude = float(np.sum(np.abs(c) * radius ** np.arange(len(c))))
    return gamma(2 * len(c)) * magnitude * math.exp(radius)


@functools.lru_cache(maxsize=256)
def _fit_exp_cached(radius: float, eps: float, method: str, max_degree: int) -> ExpFit:
    for degree in range(max_degree + 1):
        c = _coefficients(method, radius, degree)
        if rounding_allowance(c, radius) > eps:
            raise FastAttentionRefused(
                f"eps: float64 rounding alone (about u·e^(2R)) exceeds eps = {eps} on "
                f"[-{radius}, {radius}] at degree {degree}; a certified fit needs a larger eps "
                f"or a smaller R (no fit certifies beyond R = "
                f"{_largest_certifiable_radius(eps):.6g} at this eps)"
            )
        certified = _certify_relative_error(c, radius)
        if eps < certified < 2 * eps:  # borderline: the cell term may be loose, refine once
            certified = _certify_relative_error(c, radius, cells=REFINED_CELLS)
        if certified <= eps:
            return ExpFit(degree, tuple(float(x) for x in c), certified, radius, eps, method)
    raise FastAttentionRefused(
        f"eps, max_degree: no {method} fit of degree <= {max_degree} reaches relative error "
        f"{eps} on "
        f"[-{radius}, {radius}]"
    )


def fit_exp(
    radius: float, eps: float, method: str = "minimax", *, max_degree: int = MAX_DEGREE
) -> ExpFit:
    """The smallest-degree ``method`` fit of ``exp`` on ``[-radius, radius]`` whose certified
    relative error is ``<= eps`` (cached on ``(radius, eps, method, max_degree)``).

    Raises :class:`FastAttentionRefused` when no fit certifies: up front (before any linear
    algebra) when ``radius`` exceeds :func:`largest_certifiable_radius`, else when rounding or
    ``max_degree`` stops the search.

    >>> from reference.efficiency.polyfit import fit_exp
    >>> [fit_exp(r, 1e-3).degree for r in (1.0, 4.0)]
    [4, 9]
    >>> fit_exp(1.0, 1e-3, "taylor").degree
    6
    """
    radius = positive_float("radius", radius)
    eps = open_unit_interval("eps", eps)
    method = check_method(method)
    max_degree = positive_int("max_degree", max_degree, minimum=0)
    return _fit_exp(radius, eps, method, max_degree)


def _fit_exp(radius: float, eps: float, method: str, max_degree: int = MAX_DEGREE) -> ExpFit:
    """:func:`fit_exp`, called with checked arguments (still refusing a radius above
    :func:`largest_certifiable_radius` before any linear algebra)."""
    limit = _largest_certifiable_radius(eps)
    if radius > limit:
        raise FastAttentionRefused(
            f"radius: no float64 fit of relative error eps = {eps:.3g} can be certified on "
            f"[-{radius:.6g}, {radius:.6g}]: rounding alone (>= γ_2·(1 − eps)·e^(2R)) exceeds "
            f"eps beyond R = {limit:.6g}, the largest radius the fit can certify"
        )
    return _fit_exp_cached(radius, eps, method, max_degree)
