"""Check functions of the universality and memorization properties (used by tests and report).

Each ``check_*`` takes one drawn case and returns :class:`~verify.properties.Observation`\\ s
for :func:`~verify.properties.run_property`; bounds come from :mod:`verify.bounds.universality`.
The oracle :func:`quantized_target` is written independently of the construction's table code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference import Construction, construct_memorizer, construct_universal, prompt_forward
from verify.bounds import universality as ub
from verify.properties import Observation
from verify.strategies.targets import make_sawtooth
from verify.strategies.universality import (  # FLOAT64_SIGNIFICAND_BITS: re-exported
    FLOAT64_SIGNIFICAND_BITS,  # noqa: F401
    MemorizationCase,
    TightCase,
    UniversalCase,
    edge_biased_inputs,
)

#: Allowed ``|fitted slope + 1|`` for "the sup error falls like ``1/K``".
SLOPE_TOLERANCE = 0.25
#: The slope check as LaTeX, built from :data:`SLOPE_TOLERANCE`.
SLOPE_TOLERANCE_LATEX = rf"|\hat s + 1| \le {SLOPE_TOLERANCE:g}"


def quantized_target(f: Callable, x: np.ndarray, K: int, Q: int) -> np.ndarray:
    """Oracle: ``f`` at the cell centers of ``x (L, d)``, rounded to the level centers.

    >>> import numpy as np
    >>> from verify.universality_checks import quantized_target
    >>> quantized_target(lambda x: x, np.array([[0.3]]), 4, 4).tolist()
    [[0.375]]
    """
    centers = (np.minimum(np.floor(x * K), K - 1) + 0.5) / K  # (L, d)
    values = np.asarray(f(centers), dtype=np.float64)  # (L, d)
    return (np.minimum(np.floor(values * Q), Q - 1) + 0.5) / Q


def sup_error(c: Construction, f: Callable, xs: np.ndarray) -> tuple[float, int]:
    """``max ‖τ([P; X]) − f(X)‖_max`` over the off-band sequences of ``xs``, and their count."""
    keep = np.atleast_1d(c.off_band(xs))
    if not keep.any():
        return 0.0, 0
    inside = xs[keep]  # (B', L, d)
    out = c.forward(inside)  # (B', L, d)
    truth = np.stack([f(x) for x in inside])  # (B', L, d)
    return float(np.abs(out - truth).max()), int(keep.sum())


def grid_deviation(c: Construction, f: Callable, limit: int | None = None) -> np.ndarray:
    """Per grid sequence (cell centers), ``max |τ − quantized f|``; 0 means exactly right."""
    d, L, K = c.d, c.L, c.K
    kd = K**d
    ids = np.arange(kd**L)[:limit]  # (S,)
    cells = (ids[:, None] // kd ** np.arange(L)) % kd  # (S, L)
    coords = (cells[..., None] // K ** np.arange(d)) % K  # (S, L, d)
    xs = (coords + 0.5) / K  # (S, L, d)
    out = c.forward(xs)  # (S, L, d)
    oracle = np.stack([quantized_target(f, x, K, c.Q) for x in xs])  # (S, L, d)
    return np.abs(out - oracle).max(axis=(1, 2))


def bound_for(c: Construction, lipschitz: float) -> float:
    """The sympy error bound ``C/(2K) + 1/(2Q)`` at this construction's grid."""
    return float(ub.error_bound_fn(lipschitz, c.K, c.Q))


# ----------------------------------------------------------------------------- universality
def check_error_tracks_bound(case: UniversalCase) -> Observation:
    """Off the band, ``‖τ − f‖_max <= C/(2K) + 1/(2Q)`` (``C`` as the target claims it)."""
    f = case.target
    c = construct_universal(f, d=case.d, L=case.L, lipschitz=f.lipschitz, eps=case.eps)
    err, _ = sup_error(c, f, case.xs)
    return Observation(err, bound_for(c, f.lipschitz), f"sup error ({f.kind})")


def check_with_corrupted_row(case: UniversalCase) -> Observation:
    """Planted violation: the prompt row of the first input's first token gets every digit
    flipped (packed value ``v ↦ 1 − v``); the error on that input must break the bound."""
    f = case.target
    c = construct_universal(f, d=case.d, L=case.L, lipschitz=f.lipschitz, eps=case.eps)
    xs = case.xs[c.off_band(case.xs)][:1]
    if xs.shape[0] == 0:
        xs = (np.floor(case.xs[:1] * c.K) + 0.5) / c.K
    cells = np.minimum(np.floor(xs[0, 0] * c.K), c.K - 1).astype(int)  # (d,)
    row = int((cells * c.K ** np.arange(c.d)).sum())  # position 0
    prompt = complement_row(c, row)  # (Lp, D)
    out = prompt_forward(c.model, prompt, xs)  # (1, L, d)
    err = float(np.abs(out[0] - f(xs[0])).max())
    return Observation(err, bound_for(c, f.lipschitz), "sup error, corrupted prompt row")


def complement_row(c: Construction, row: int) -> np.ndarray:
    """A copy of ``c.prompt`` whose row ``row`` has every packed digit ``a`` replaced by
    ``Q − 1 − a`` (packed value ``v ↦ 1 − v``, exact); the value block is found through ``W_V``."""
    pv = np.flatnonzero(np.abs(c.model.attn.w_v[:, : c.d]).sum(axis=1))  # (d,) coordinates
    prompt = c.prompt.copy()  # (Lp, D)
    prompt[row, pv] = 1.0 - prompt[row, pv]
    return prompt


def check_tight(case: TightCase, claimed: float | None = None) -> Observation:
    """On the tight sawtooth the error at ``offset`` is ``bound − C·offset`` (ratio → 1).

    ``claimed``: the constant the construction is told (default: the true slope)."""
    f = case.target()
    constant = case.slope if claimed is None else claimed
    c = construct_universal(f, d=case.d, L=case.L, lipschitz=constant, eps=case.eps)
    x = case.x()
    err = float(np.abs(c.forward(x) - f(x)).max())
    return Observation(err, bound_for(c, constant), "tight sawtooth error")


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares slope of ``log2(sup error)`` against ``log2 K``."""

    Ks: tuple[int, ...]
    errors: tuple[float, ...]
    bounds: tuple[float, ...]
    slope: float


def fit_log_slope(Ks: list[int], errors: list[float]) -> float:
    """Slope of the least-squares line through ``(log2 K, log2 error)``.

    >>> from verify.universality_checks import fit_log_slope
    >>> round(fit_log_slope([2, 4, 8], [0.5, 0.25, 0.125]), 6)
    -1.0
    """
    x, y = np.log2(np.asarray(Ks, float)), np.log2(np.asarray(errors, float))
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x * x).sum())


def check_slope(slope: float) -> Observation:
    """``|slope + 1| <= SLOPE_TOLERANCE``: the fitted log-log slope is close to ``-1``.

    >>> from verify.universality_checks import check_slope
    >>> check_slope(-1.1).holds, check_slope(0.0).holds
    (True, False)
    """
    return Observation(abs(slope + 1), SLOPE_TOLERANCE, "|fitted slope + 1|")


def check_slope_fit(fit: SlopeFit) -> list[Observation]:
    """The slope of ``fit`` near ``-1`` and every measured error under its bound."""
    return [check_slope(fit.slope)] + [
        Observation(e, b, f"sup error at K={K}")
        for K, e, b in zip(fit.Ks, fit.errors, fit.bounds, strict=True)
    ]


def error_vs_K(
    d: int,
    L: int,
    Ks: list[int],
    *,
    seed: int,
    samples: int = 128,
    targets: int = 8,
    slope: float = 1.0,
) -> SlopeFit:
    """Sup error at ``ε = C/K`` (so ``Q = K/C``) of ``targets`` random sawtooths of slope
    ``C = slope``, geometric mean over the targets, each on ``samples`` inputs (half of them
    near edges of the finest grid, hence of every coarser one). The bound is ``∝ 1/K``; the
    fitted slope of ``log2 error`` against ``log2 K`` should be ``≈ −1``."""
    rng = np.random.default_rng(seed)
    fs = [make_sawtooth(d, L, rng, slope) for _ in range(targets)]
    xs = edge_biased_inputs(rng, samples, L, d, max(Ks))  # (S, L, d)
    errors, bounds = [], []
    for K in Ks:
        sups = []
        for f in fs:
            c = construct_universal(f, d=d, L=L, lipschitz=slope, eps=slope / K)
            sups.append(sup_error(c, f, xs)[0])
        errors.append(float(np.exp(np.mean(np.log(sups)))))
        bounds.append(bound_for(c, slope))
    return SlopeFit(tuple(Ks), tuple(errors), tuple(bounds), fit_log_slope(Ks, errors))


# ----------------------------------------------------------------------------- memorization
def check_memorized(case: MemorizationCase) -> list[Observation]:
    """Every output token within ``1/(2Q) < ε``; prompt rows and bits equal the sympy ones."""
    c = construct_memorizer(case.xs, case.ys, eps=case.eps, separation=case.separation)
    _, L, d = case.xs.shape
    err = float(np.abs(c.forward(case.xs) - case.ys).max())
    rows = float(ub.prompt_rows_fn(d, L, c.K))
    bits = float(ub.bits_per_row_fn(d, L, c.K, c.Q))
    K_sym = int(ub.memorizer_cells_per_axis_fn(case.separation))
    return [
        Observation(err, float(ub.memorizer_error_bound_fn(c.Q)), "memorization error"),
        Observation(err, case.eps, "memorization error vs eps"),
        Observation(abs(c.prompt_rows - rows), 0.0, "prompt rows - L K^d", exact=True),
        Observation(abs(c.bits_per_row - bits), 0.0, "bits per row - sympy", exact=True),
        Observation(abs(c.K - K_sym), 0.0, "K - K(delta)", exact=True),
    ]


def check_memorized_corrupted(case: MemorizationCase) -> Observation:
    """Planted violation: complement every digit of the prompt row read by the first token of
    the first sequence; that token then misses its target (unless ``y`` is exactly 1/2)."""
    c = construct_memorizer(case.xs, case.ys, eps=case.eps, separation=case.separation)
    cells = np.minimum(np.floor(case.xs[0, 0] * c.K), c.K - 1).astype(int)  # (d,)
    prompt = complement_row(c, int((cells * c.K ** np.arange(c.d)).sum()))
    out = prompt_forward(c.model, prompt, case.xs[:1])
    err = float(np.abs(out - case.ys[:1]).max())
    return Observation(err, float(ub.memorizer_error_bound_fn(c.Q)), "corrupted memorization")


# ----------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class PrecisionPoint:
    """One construction evaluated on (part of) its grid at one backend precision."""

    d: int
    L: int
    K: int
    Q: int
    table_bits: int  # T log2 Q
    precision_needed: int
    backend: str
    precision_bits: int
    sequences: int
    wrong: int
    max_deviation: float

    @property
    def exact(self) -> bool:
        return self.wrong == 0


def precision_point(
    d: int,
    L: int,
    K: int,
    Q: int,
    *,
    backend: str = "float64",
    precision_bits: int | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> PrecisionPoint:
    """Build (without the precision check) and count grid sequences decoded wrongly."""
    f = make_sawtooth(d, L, np.random.default_rng(seed), 1.0)
    c = construct_universal(
        f,
        d=d,
        L=L,
        lipschitz=K / Q,
        eps=1.0 / Q,
        backend=backend,
        precision_bits=precision_bits,
        check_precision=False,
    )
    dev = grid_deviation(c, f, limit)
    T = int(ub.contexts_fn(d, L, K))
    return PrecisionPoint(
        d,
        L,
        K,
        Q,
        T * (Q.bit_length() - 1),
        int(ub.precision_needed_fn(d, L, K, Q)),
        backend,
        c.precision_bits,
        int(dev.size),
        int((dev > 0).sum()),
        float(dev.max()),
    )


def check_precision_point(point: PrecisionPoint) -> Observation:
    """Exactness is promised when ``precision_bits >= precision_needed``: wrong count ``<= 0``."""
    promised = point.precision_bits >= point.precision_needed
    return Observation(
        float(point.wrong) if promised else 0.0, 0.0, "wrong grid sequences", exact=True
    )


def check_fails_beyond_significand(point: PrecisionPoint) -> Observation:
    """When the packed table (``T log2 Q + 1`` bits) does not fit the significand, some grid
    sequence must be decoded wrongly (the failure is measurable, not hidden)."""
    beyond = point.table_bits + 1 > point.precision_bits
    return Observation(
        1.0 if beyond and point.wrong == 0 else 0.0, 0.0, "undetected overflow", exact=True
    )
