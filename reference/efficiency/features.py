"""The exact multinomial feature map of a polynomial kernel (theory.md §5).

For ``p(t) = Σ_{j<=g} c_j t^j`` and ``scale > 0``, with multi-indices ``α`` of degree ``|α| = j``:

    φ_α(q) = sqrt(|c_j| · j!/α!) · scale^{j/2} · q^α,    ψ_α(k) = sign(c_j) · φ_α(k),

so that ``φ(q) · ψ(k) = Σ_j c_j (scale · q·k)^j = p(scale · q·k)`` exactly (to rounding), by the
multinomial theorem. The rank is ``C(d + g, g)``.

Columns are built degree by degree: every degree-``j`` monomial is a degree-``(j−1)`` monomial
times one coordinate ``x_i`` with ``i >=`` the largest coordinate already in it, so each column
costs one multiplication (``O(n·r)`` in all). Features are returned **transposed**, ``(r, n)``, so
that the gathers are row gathers; callers process rows in blocks to bound memory.
:class:`BlockFeatures` builds the features of one cache-sized block in a reused buffer, and
:func:`_blocked_passes` are fast attention's two passes over such blocks (the key summary,
then the queries), so no ``(n, r)`` feature matrix is ever held.
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
            f"dim, degree: the table of d = {dim} variables up to degree {degree} would hold "
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


#: One degree step of :class:`BlockFeatures`: ``dst = src · coordinate`` (slices of its buffer)
Step = tuple[np.ndarray, np.ndarray, np.ndarray]


class BlockFeatures:
    """Unweighted features ``(f · x)^α`` of row blocks ``x (b, d)``, ``b <= rows``, written into
    one reusable ``(r, rows)`` buffer whose slices for every degree step are made once: per block
    one product writes the degree-1 rows ``f · x`` and one product per segment of
    :attr:`MonomialTable.segments` (degree ``>= 2``) extends them, so a block that fits in the
    cache is built and consumed there. The features returned are a view, valid until the next
    call. Callers pass checked, finite rows and a factor for which no feature overflows.

    >>> import numpy as np
    >>> from reference.efficiency.features import BlockFeatures, monomial_table, monomials
    >>> blocks = BlockFeatures(monomial_table(2, 3), rows=4)
    >>> x = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]])
    >>> bool(np.array_equal(blocks.of(x, 2.0), monomials(2.0 * x, monomial_table(2, 3))))
    True
    """

    def __init__(self, table: MonomialTable, rows: int) -> None:
        self.table = table
        self.rows = rows
        self._full = np.empty((table.rank, rows))  # (r, rows), the only feature storage
        self._full[0] = 1.0
        self._layouts: dict[int, tuple[np.ndarray, list[Step]]] = {}

    def _layout(self, rows: int) -> tuple[np.ndarray, list[Step]]:
        """The first ``rows`` columns of the buffer and their segment slices (cached: a call has
        at most two block sizes, full blocks and the last one, both in the one buffer)."""
        if rows not in self._layouts:
            d = self.table.dim
            buffer = self._full[:, :rows]  # (r, rows), a view
            steps: list[Step] = [
                (buffer[src : src + count], buffer[1 + i], buffer[dst : dst + count])
                for dst, src, count, i in self.table.segments
                if dst > d  # degree 1 (dst <= d) is written directly as f · x
            ]
            self._layouts[rows] = (buffer, steps)
        return self._layouts[rows]

    def of(self, x: np.ndarray, factor: float) -> np.ndarray:
        """The features ``(r, b)`` of the rows ``x (b, d)`` scaled by ``factor``."""
        buffer, steps = self._layout(x.shape[0])
        if self.table.degree:
            np.multiply(x.T, factor, out=buffer[1 : self.table.dim + 1])  # (d, b)
        for src, coordinate, dst in steps:
            np.multiply(src, coordinate, out=dst)  # (count, b) = (count, b) · (b,)
        return buffer


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


# ---------------------------------------------------------------- the blocked passes
def _blocked_passes(
    features: FeatureMap,
    blocks: BlockFeatures,
    qs: np.ndarray,
    ks: np.ndarray,
    v: np.ndarray,
    center: np.ndarray,
    factors: tuple[float, float],
) -> tuple[np.ndarray, float, float]:
    """The two passes of :func:`reference.efficiency.polynomial.blocked_attention` on rows
    already scaled and balanced (``factors``: query, key): the key summary
    ``ψ(K)ᵀ[V − c, 1]`` ``(r, d_v + 1)``, streamed over key blocks, then every query block
    applied to it; the output ``(n, d_v)`` and ``log2`` of the bounds on every query and key
    feature. Features, the summary and the numerators are refused
    (:class:`FastAttentionRefused` naming ``k`` or ``q``) when they could overflow, before they
    are computed."""
    table = features.table
    q_factor, k_factor = factors
    log2_k = _log2_feature_bound(table.degree, ks, k_factor)
    _refuse_overflow(features, "k", log2_k)
    summary = _blocked_summary(blocks, ks, v, center, k_factor)  # (r, dv+1)
    summary *= features.psi_weights[:, None]
    if not np.all(np.isfinite(summary)):
        raise FastAttentionRefused(
            "k: the key summary ψ(K)ᵀ[V, 1] overflows float64 (too many or too large keys or "
            f"values for the degree-{table.degree} features)"
        )
    weighted = summary * features.phi_weights[:, None]  # (r, dv+1): φ = w_φ ∘ raw
    top = float(np.max(np.abs(weighted), initial=0.0))
    log2_q = _log2_feature_bound(table.degree, qs, q_factor)
    _refuse_overflow(features, "q", log2_q + math.log2(table.rank) + math.log2(top or 1.0))
    out = _blocked_apply(blocks, qs, weighted, q_factor)  # (n, dv)
    out += center
    return out, log2_q, log2_k


def _log2_feature_bound(degree: int, x: np.ndarray, factor: float) -> float:
    """``log2`` of a bound on every feature ``|(factor · x)^α|``, ``|α| <= degree``:
    ``max(1, max|factor · x|)^degree`` (rounding included)."""
    top = max(float(x.max(initial=0.0)), -float(x.min(initial=0.0))) * factor
    return degree * max(0.0, math.log2(top * (1.0 + 2.0**-40))) if top else 0.0


def _refuse_overflow(features: FeatureMap, name: str, log2_bound: float) -> None:
    """Refuse (naming ``name``) when ``2^log2_bound`` may exceed the float64 range."""
    if log2_bound >= 1023.0:
        raise FastAttentionRefused(
            f"{name}: the degree-{features.table.degree} features of {name} overflow float64 "
            f"(a bound on them or on their products is 2^{log2_bound:.4g}); rescale {name}"
        )


def _blocked_summary(
    blocks: BlockFeatures, k: np.ndarray, v: np.ndarray, center: np.ndarray, factor: float
) -> np.ndarray:
    """``Σ_blocks raw(K_b)ᵀ [V_b − c, 1]`` ``(r, d_v + 1)`` (the ψ weights not yet applied),
    each block's product in row chunks of the features (:func:`_chunks`)."""
    m, dv = v.shape
    rows = min(blocks.rows, m)
    summary = np.zeros((blocks.table.rank, dv + 1))  # (r, dv+1)
    part = np.empty_like(summary)  # (r, dv+1)
    v1 = np.empty((rows, dv + 1))  # (b, dv+1) = [V_b − c, 1]
    v1[:, dv] = 1.0
    chunks = _chunks(blocks.table.rank, rows * (dv + 1))
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        block = v1[: stop - start]  # (b, dv+1)
        np.subtract(v[start:stop], center, out=block[:, :dv])
        features = blocks.of(k[start:stop], factor)  # (r, b)
        for lo, hi in chunks:
            np.matmul(features[lo:hi], block, out=part[lo:hi])  # (c, b) @ (b, dv+1)
        summary += part
    return summary


#: the largest M·N·K of one block product: OpenBLAS multiplies without packing below 10^6
SMALL_GEMM_MNK = 900_000


def _chunks(length: int, other: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges covering ``length`` with ``(hi − lo) · other <= SMALL_GEMM_MNK``."""
    step = max(1, SMALL_GEMM_MNK // other)
    return [(lo, min(length, lo + step)) for lo in range(0, length, step)]


def _blocked_apply(
    blocks: BlockFeatures, q: np.ndarray, weighted: np.ndarray, factor: float
) -> np.ndarray:
    """Rows ``raw(q_i)ᵀ W / raw(q_i)ᵀ W[:, -1]`` ``(n, d_v)``; refuses a non-positive
    denominator (a relative error below 1 keeps every weight positive)."""
    n, dv = q.shape[0], weighted.shape[1] - 1
    rows = min(blocks.rows, n)
    out = np.empty((n, dv))  # (n, dv)
    num = np.empty((rows, dv + 1))  # (b, dv+1)
    chunks = _chunks(rows, blocks.table.rank * (dv + 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = num[: stop - start]  # (b, dv+1)
        features = blocks.of(q[start:stop], factor)  # (r, b)
        for lo, hi in chunks:
            if lo < stop - start:  # (c, r) @ (r, dv+1)
                np.matmul(features[:, lo:hi].T, weighted, out=block[lo:hi])
        if not block[:, dv].min() > 0.0:
            raise FloatingPointError(
                "fast attention: non-positive denominator; the polynomial was evaluated "
                "outside its certified interval or the fit is broken"
            )
        np.divide(block[:, :dv], block[:, dv:], out=out[start:stop])
    return out
