"""The exact multinomial feature map of a polynomial kernel (theory.md §5).

For ``p(t) = Σ_{j<=g} c_j t^j`` and ``scale > 0``, with multi-indices ``α`` of degree ``|α| = j``:

    φ_α(q) = sqrt(|c_j| · j!/α!) · scale^{j/2} · q^α,    ψ_α(k) = sign(c_j) · φ_α(k),

so that ``φ(q) · ψ(k) = Σ_j c_j (scale · q·k)^j = p(scale · q·k)`` exactly (to rounding), by the
multinomial theorem. The rank is ``C(d + g, g)``.

Columns are built degree by degree: every degree-``j`` monomial is a degree-``(j−1)`` monomial
times one coordinate ``x_i`` with ``i >=`` the largest coordinate already in it, so each column
costs one multiplication (``O(n·r)`` in all). Features are returned **transposed**, ``(r, n)``, so
that the gathers are row gathers; callers process rows in blocks to bound memory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from reference._validation import as_array, positive_float, positive_int
from reference.efficiency.polyfit import FastAttentionRefused

#: The public API (monomials is FeatureMap's step, called with a validated table and input;
#: functions with a leading underscore are the unchecked cores, called with checked arguments).
__all__ = ["FeatureMap", "MonomialTable", "monomial_table", "rank"]


def rank(dim: int, degree: int) -> int:
    """Number of monomials of degree ``<= degree`` in ``dim`` variables, ``C(dim + degree, degree)``

    >>> from reference.efficiency.features import rank
    >>> rank(8, 4)
    495
    """
    dim = positive_int("dim", dim)
    degree = positive_int("degree", degree, minimum=0)
    return _rank(dim, degree)


def _rank(dim: int, degree: int) -> int:
    """:func:`rank`, called with checked arguments (``dim >= 1``, ``degree >= 0``)."""
    return math.comb(dim + degree, min(dim, degree))


@dataclass(frozen=True)
class MonomialTable:
    """How to build the monomials of degree ``<= g`` in ``d`` variables degree by degree.

    The columns of degree ``j`` are the slice ``starts[j]:starts[j+1]``; ``multinomial`` is
    ``j!/α!`` and ``degree_of`` the degree ``j`` of each column. Each degree
    is grouped by its last variable, so the columns extending by ``x_i`` are a contiguous
    prefix of the previous degree: ``segments`` lists ``(dst, src, count, i)`` with
    ``cols[dst:dst+count] = cols[src:src+count] · x_i`` (no gathers).
    """

    dim: int
    degree: int
    starts: tuple[int, ...]
    multinomial: np.ndarray  # (r,) j! / α!
    degree_of: np.ndarray  # (r,) |α|
    segments: tuple[tuple[int, int, int, int], ...] = ()  # (dst, src, count, variable)

    @property
    def rank(self) -> int:
        return int(self.starts[-1])


MAX_TABLE_RANK = 1 << 24  # monomials a table may hold (checked before anything is built)


def monomial_table(dim: int, degree: int) -> MonomialTable:
    """The :class:`MonomialTable` of ``d = dim`` variables up to degree ``degree`` (cached);
    refused (``ValueError``) before any allocation when the rank exceeds ``MAX_TABLE_RANK``.

    >>> from reference.efficiency.features import monomial_table
    >>> t = monomial_table(2, 2)
    >>> (t.rank, t.multinomial.tolist())
    (6, [1.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    """
    dim = positive_int("dim", dim)
    degree = positive_int("degree", degree, minimum=0)
    return _monomial_table(dim, degree)


def _monomial_table(dim: int, degree: int) -> MonomialTable:
    """:func:`monomial_table`, called with checked arguments (still refusing a rank above
    ``MAX_TABLE_RANK``)."""
    size = _rank(dim, degree)
    if size > MAX_TABLE_RANK:
        raise ValueError(
            f"degree: the table of d = {dim} variables up to degree {degree} would hold "
            f"C({dim}+{degree}, {degree}) = {size:.3g} monomials, above {MAX_TABLE_RANK}"
        )
    return _build_monomial_table(dim, degree)


@functools.lru_cache(maxsize=64)
def _build_monomial_table(dim: int, degree: int) -> MonomialTable:
    last = [0]  # (r,) the last variable of each column (0 for the constant)
    alphas = [np.zeros(dim, dtype=np.int64)]
    starts = [0, 1]
    segments: list[tuple[int, int, int, int]] = []
    for _ in range(1, degree + 1):
        prev_lo, begin = starts[-2], len(last)
        prev_last = last[prev_lo:begin]  # non-decreasing: each degree is grouped by last variable
        for i in range(dim):
            count = int(np.searchsorted(prev_last, i, side="right"))  # parents with last <= i
            segments.append((len(last), prev_lo, count, i))
            for col in range(prev_lo, prev_lo + count):
                last.append(i)
                alpha = alphas[col].copy()
                alpha[i] += 1
                alphas.append(alpha)
        starts.append(len(last))
    alpha_arr = np.array(alphas)  # (r, d)
    degrees = alpha_arr.sum(axis=1)  # (r,)
    multinomial = np.array(
        [
            math.factorial(int(j)) / math.prod(math.factorial(int(a)) for a in row)
            for j, row in zip(degrees, alpha_arr, strict=True)
        ]
    )  # (r,)
    return MonomialTable(
        dim,
        degree,
        tuple(starts),
        multinomial,
        degrees,
        tuple(segments),
    )


def monomials(x: np.ndarray, table: MonomialTable) -> np.ndarray:
    """All monomials ``x^α`` with ``|α| <= g``, transposed: ``(r, n)`` for ``x (n, d)``.

    >>> import numpy as np
    >>> from reference.efficiency.features import monomial_table, monomials
    >>> monomials(np.array([[2.0, 3.0]]), monomial_table(2, 2)).ravel().tolist()
    [1.0, 2.0, 3.0, 4.0, 6.0, 9.0]
    """
    n = x.shape[0]
    xt = np.ascontiguousarray(x.T, dtype=np.float64)  # (d, n)
    out = np.empty((table.rank, n))  # (r, n)
    out[0] = 1.0
    for dst, src, count, i in table.segments:
        np.multiply(out[src : src + count], xt[i], out=out[dst : dst + count])
    return out


@dataclass(frozen=True)
class FeatureMap:
    """``φ`` and ``ψ`` for the polynomial ``Σ c_j t^j`` and a ``scale`` (see module docstring).

    >>> import numpy as np
    >>> from reference.efficiency.features import FeatureMap
    >>> fm = FeatureMap.build(np.array([1.0, 1.0, 0.5]), dim=2, scale=0.5)
    >>> q, k = np.array([[1.0, 2.0]]), np.array([[0.5, -1.0]])
    >>> t = 0.5 * float(q[0] @ k[0])
    >>> bool(np.isclose((fm.phi(q).T @ fm.psi(k))[0, 0], 1 + t + 0.5 * t * t))
    True
    """

    table: MonomialTable
    phi_weights: np.ndarray  # (r,)
    psi_weights: np.ndarray  # (r,)
    scale: float

    @classmethod
    def build(cls, coeffs: np.ndarray, *, dim: int, scale: float) -> FeatureMap:
        c = as_array("coeffs", np.asarray(coeffs, dtype=np.float64), ndim=1)
        if c.size == 0:
            raise ValueError("coeffs: expected at least one coefficient, got 0")
        scale = positive_float("scale", scale)
        dim = positive_int("dim", dim)
        return cls._build(c, dim=dim, scale=scale)

    @classmethod
    def _build(cls, coeffs: np.ndarray, *, dim: int, scale: float) -> FeatureMap:
        """:meth:`build`, called with checked arguments: float64 coefficients ``(g + 1,)``,
        ``g >= 0``, ``dim >= 1``, ``scale > 0``."""
        c = coeffs
        table = _monomial_table(dim, c.size - 1)
        cj = c[table.degree_of]  # (r,)
        magnitude = np.sqrt(np.abs(cj) * table.multinomial)  # (r,)
        return cls(table, magnitude, np.sign(cj) * magnitude, scale)

    @property
    def rank(self) -> int:
        return self.table.rank

    def _check(self, name: str, x: np.ndarray) -> np.ndarray:
        x = as_array(name, x, ndim=2)
        if x.shape[1] != self.table.dim:
            raise ValueError(
                f"{name}: expected {self.table.dim} columns (the feature map's d), "
                f"got shape {x.shape}"
            )
        return x

    def _features(self, name: str, x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """``weights ∘ (√scale · x)^α`` ``(r, n)``; refuses (names ``name``) when float64
        overflows, instead of returning inf."""
        return self._features_of(name, self._check(name, x), weights)

    def _features_of(self, name: str, x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """:meth:`_features` of checked rows ``x (n, d)`` (finite floats, ``d`` columns)."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = monomials(x * np.sqrt(self.scale), self.table)  # (r, n)
            if weights is not None:
                out *= weights[:, None]
        if out.size and not np.all(np.isfinite(out)):
            top = float(np.max(np.abs(x))) * math.sqrt(self.scale)
            raise FastAttentionRefused(
                f"{name}: the degree-{self.table.degree} features overflow float64 "
                f"(max |√scale·{name}| = {top:.3g}, so max |√scale·{name}|^{self.table.degree} "
                f"times the weights exceeds {np.finfo(np.float64).max:.3g}); rescale {name}"
            )
        return out

    def raw(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """Unweighted features ``(√scale · x)^α``, transposed ``(r, n)``: ``φ = w_φ ∘ raw`` and
        ``ψ = w_ψ ∘ raw`` row-wise, so callers can fold the weights into small matrices
        (``name`` is the argument named in errors)."""
        return self._features(name, x, None)

    def _raw(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """:meth:`raw` of checked rows ``x (n, d)`` (finite floats, ``d`` columns)."""
        return self._features_of(name, x, None)

    def phi(self, q: np.ndarray) -> np.ndarray:
        """``φ(q)ᵀ``: ``(r, n)`` for ``q (n, d)``; :class:`FastAttentionRefused` on overflow.

        >>> import numpy as np
        >>> from reference.efficiency.features import FeatureMap
        >>> fm = FeatureMap.build(np.array([1.0, 1.0, 0.5]), dim=1, scale=1.0)
        >>> fm.phi(np.array([[1e200]]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        reference.efficiency.polyfit.FastAttentionRefused: q: the degree-2 features overflow ...
        """
        return self._features("q", q, self.phi_weights)

    def psi(self, k: np.ndarray) -> np.ndarray:
        """``ψ(k)ᵀ``: ``(r, m)`` for ``k (m, d)``; :class:`FastAttentionRefused` on overflow."""
        return self._features("k", k, self.psi_weights)
