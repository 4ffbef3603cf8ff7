"""Check functions of the universality and memorization properties (used by tests and report).

Each ``check_*`` takes one drawn case and returns
:class:`~verify.claims.properties.Observation`\\ s for
:func:`~verify.claims.properties.run_property`; bounds come from
:mod:`verify.claims.universality.bounds`. The oracle :func:`quantized_target` is written
independently of the construction's table code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reference import Construction, Transformer, construct_memorizer, construct_universal
from reference.constructions.sizes import DECODERS
from verify.claims.properties import Observation
from verify.claims.universality import bounds as ub
from verify.claims.universality.strategies import (  # FLOAT64_SIGNIFICAND_BITS: re-exported
    FLOAT64_SIGNIFICAND_BITS,  # noqa: F401
    MemorizationCase,
    TightCase,
    UniversalCase,
    edge_biased_inputs,
)
from verify.claims.universality.targets import make_sawtooth

#: Allowed ``|fitted slope + 1|`` for "the sup error falls like ``1/K``".
SLOPE_TOLERANCE = 0.25
#: The slope check as LaTeX, built from :data:`SLOPE_TOLERANCE`.
SLOPE_TOLERANCE_LATEX = rf"|\hat s + 1| \le {SLOPE_TOLERANCE:g}"


def quantized_target(f: Callable, x: np.ndarray, K: int, Q: int) -> np.ndarray:
    """Oracle: ``f`` at the cell centers of ``x (L, d)``, rounded to the level centers.

    >>> import numpy as np
    >>> from verify.claims.universality.checks import quantized_target
    >>> quantized_target(lambda x: x, np.array([[0.3]]), 4, 4).tolist()
    [[0.375]]
    """
    centers = (np.minimum(np.floor(x * K), K - 1) + 0.5) / K  # (L, d)
    values = np.asarray(f(centers), dtype=np.float64)  # (L, d)
    return (np.minimum(np.floor(values * Q), Q - 1) + 0.5) / Q


def band_mask(xs: np.ndarray, K: int, eta: float) -> np.ndarray:
    """Whether each sequence of ``xs (..., L, d)`` has a coordinate at distance ``< eta`` from an
    interior cell boundary ``j/K`` (written independently of the construction's own test).

    >>> import numpy as np
    >>> from verify.claims.universality.checks import band_mask
    >>> band_mask(np.array([[[0.26]], [[0.4]]]), 4, 1 / 32).tolist()
    [True, False]
    """
    scaled = np.asarray(xs, dtype=np.float64) * K  # (..., L, d), exact for K a power of two
    nearest = np.clip(np.rint(scaled), 1, K - 1)  # (..., L, d)
    return (np.abs(scaled - nearest) < eta * K).any(axis=(-2, -1))


def stated_band(c: Construction) -> float:
    """The band half-width the theorem states for ``c``'s ``(ε, d, L, K)`` (sympy), not the one
    the construction reports.

    >>> from reference.constructions.universality import construct_universal
    >>> from verify.claims.universality.checks import stated_band
    >>> c = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)
    >>> stated_band(c), c.band
    (0.03125, 0.03125)
    """
    return float(ub.band_eta_fn(c.eps, c.d, c.L, c.K))


def sup_error(c: Construction, f: Callable, xs: np.ndarray) -> tuple[float, int]:
    """``max ‖τ([P; X]) − f(X)‖_max`` over the sequences of ``xs`` off the stated band (see
    :func:`stated_band`), and their count."""
    keep = ~band_mask(xs, c.K, stated_band(c))  # (B,)
    if not keep.any():
        return 0.0, 0
    inside = xs[keep]  # (B', L, d)
    out = c.forward(inside, on_band="ignore")  # (B', L, d)
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
    out = c.forward(xs, on_band="ignore")  # (S, L, d)
    oracle = np.stack([quantized_target(f, x, K, c.Q) for x in xs])  # (S, L, d)
    return np.abs(out - oracle).max(axis=(1, 2))


def bound_for(c: Construction, lipschitz: float) -> float:
    """The sympy error bound ``C/(2K) + 1/(2Q)`` at this construction's grid."""
    return float(ub.error_bound_fn(lipschitz, c.K, c.Q))


# ----------------------------------------------------------------------------- universality
#: A planted defect: ``(construction, the inputs it will be checked on) -> broken construction``.
Corruption = Callable[[Construction, np.ndarray], Construction]


def check_error_tracks_bound(case: UniversalCase, corrupt: Corruption | None = None) -> Observation:
    """Off the band, ``‖τ − f‖_max <= C/(2K) + 1/(2Q)`` (``C`` as the target claims it).

    ``corrupt`` replaces the construction by a broken one before it is checked (planted
    violations, e.g. :func:`complement_first_row`)."""
    f = case.target
    c = construct_universal(f, d=case.d, L=case.L, lipschitz=f.lipschitz, eps=case.eps)
    if corrupt is not None:
        c = corrupt(c, case.xs[~band_mask(case.xs, c.K, stated_band(c))])
    err, _ = sup_error(c, f, case.xs)
    return Observation(err, bound_for(c, f.lipschitz), f"sup error ({f.kind})")


def check_with_corrupted_row(case: UniversalCase) -> Observation:
    """Planted violation: :func:`check_error_tracks_bound` on a prompt whose row read by the
    first checked input's first token has every digit complemented."""
    return check_error_tracks_bound(case, complement_first_row)


def dense_parts(c: Construction) -> tuple[Transformer, np.ndarray]:
    """``(c.model, c.prompt)`` of a dense construction (a ``TypeError`` on the exact backend).

    >>> from reference.constructions.universality import construct_universal
    >>> from verify.claims.universality.checks import dense_parts
    >>> c = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)
    >>> dense_parts(c)[1].shape[0]
    4
    """
    if c.model is None or c.prompt is None:
        raise TypeError("construction: expected a dense model and prompt, got None (exact backend)")
    return c.model, c.prompt


def complement_row(c: Construction, row: int) -> np.ndarray:
    """A copy of ``c.prompt`` whose row ``row`` has every packed digit ``a`` replaced by
    ``Q − 1 − a`` (packed value ``v ↦ 1 − v``, exact); the value block is found through ``W_V``."""
    model, dense_prompt = dense_parts(c)
    pv = np.flatnonzero(np.abs(model.attn.w_v[:, : c.d]).sum(axis=1))  # (d,) coordinates
    prompt = dense_prompt.copy()  # (Lp, D)
    prompt[row, pv] = 1.0 - prompt[row, pv]
    return prompt


def complement_first_row(c: Construction, xs: np.ndarray) -> Construction:
    """Planted defect: ``c`` with the prompt row read by the first token of ``xs[0]`` (position
    0) complemented (:func:`complement_row`); ``c`` itself when ``xs`` is empty."""
    if len(xs) == 0:
        return c
    cells = np.minimum(np.floor(np.asarray(xs[0, 0], dtype=np.float64) * c.K), c.K - 1)  # (d,)
    row = int((cells.astype(int) * c.K ** np.arange(c.d)).sum())
    return replace(c, prompt=complement_row(c, row))


def drop_last_row(c: Construction, xs: np.ndarray) -> Construction:
    """Planted defect: ``c`` with its last prompt row missing (``xs`` unused).

    >>> import numpy as np
    >>> from reference.constructions.universality import construct_universal
    >>> from verify.claims.universality.checks import drop_last_row
    >>> c = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)
    >>> c.prompt.shape[0], drop_last_row(c, np.zeros((0, 1, 1))).prompt.shape[0]
    (4, 3)
    """
    return replace(c, prompt=dense_parts(c)[1][:-1])


def check_tight(case: TightCase, claimed: float | None = None) -> list[Observation]:
    """The tight sawtooth at ``offset`` from ``X = 0``: error ``<= bound``, and equal to its
    predicted value ``bound − C·offset`` (ratio → 1 as ``offset → 0``; an attainment family).

    ``claimed``: the constant the construction is told (default: the true slope)."""
    f = case.target()
    constant = case.slope if claimed is None else claimed
    c = construct_universal(f, d=case.d, L=case.L, lipschitz=constant, eps=case.eps)
    x = case.x()
    err = float(np.abs(c.forward(x, on_band="ignore") - f(x)).max())
    bound = bound_for(c, constant)
    predicted = float(ub.error_bound_fn(case.slope, c.K, c.Q)) - case.slope * case.offset
    return [
        Observation(err, bound, "tight sawtooth error"),
        Observation(abs(err - predicted), 0.0, "|error - (bound - C offset)|", exact=True),
    ]


# ----------------------------------------------------------------------------- whole cube
#: The ``L_p`` norms reported on the whole cube.
LP_EXPONENTS = (1, 2)


@dataclass(frozen=True)
class CubeErrors:
    """Per-sample max-norm errors ``err (n,)`` on inputs over the whole cube, which samples lie
    in the theorem's band ``in_band (n,)``, and the grid ``(C, K, Q, d, L, η)`` they refer to."""

    err: np.ndarray
    in_band: np.ndarray
    C: float
    K: int
    Q: int
    d: int
    L: int
    eta: float


def cube_errors(
    case: UniversalCase, build: Callable[..., Construction] = construct_universal
) -> CubeErrors:
    """Build with ``build`` and measure the error on every input of ``case.xs``, band included;
    the band is the theorem's (sympy ``η``), not the construction's own."""
    f = case.target
    c = build(f, d=case.d, L=case.L, lipschitz=f.lipschitz, eps=case.eps)
    eta = stated_band(c)
    truth = np.stack([f(x) for x in case.xs])  # (n, L, d)
    out = np.concatenate(  # (n, L, d), in chunks: the wide and shallow FFN_out are wide
        [
            c.forward(case.xs[i : i + CUBE_CHUNK], on_band="ignore")
            for i in range(0, case.xs.shape[0], CUBE_CHUNK)
        ]
    )
    err = np.abs(out - truth).max(axis=(1, 2))  # (n,)
    return CubeErrors(err, band_mask(case.xs, c.K, eta), f.lipschitz, c.K, c.Q, c.d, c.L, eta)


#: Inputs per forward call in :func:`cube_errors` (bounds the ``(chunk, rows, H)`` activations).
CUBE_CHUNK = 64


def decoder_builder(decoder: str) -> Callable[..., Construction]:
    """:func:`reference.construct_universal` with ``decoder`` (``"deep"``, ``"wide"``,
    ``"shallow"``): the whole-cube check runs once per decoder.

    >>> from verify.claims.universality.checks import decoder_builder
    >>> decoder_builder("shallow")(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25).depth_out
    1
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    return functools.partial(construct_universal, decoder=decoder)


def check_whole_cube(
    case: UniversalCase, build: Callable[..., Construction] = construct_universal
) -> list[Observation]:
    """The premises of the whole-cube corollary on ``case.xs`` (uniform, band included): off
    the stated band the error is ``<= C/(2K) + 1/(2Q)``, in it ``<= 1 − 1/(2Q)`` (range lemma of
    the decoder ``build`` makes, plus float64's rounding allowance of the read-out),
    and the fraction of samples in the band is ``<= band measure`` + Hoeffding deviation (fails
    with probability ``<= δ`` when the band is right).

    ``build`` makes the construction (a planted violation passes a broken builder, e.g.
    :func:`construct_with_wider_band`). The sample ``L_p`` errors (:func:`sample_lp_errors`)
    follow from these three comparisons and are reported, not checked.
    """
    e = cube_errors(case, build)
    off, inside = e.err[~e.in_band], e.err[e.in_band]
    n = e.err.shape[0]
    return [
        Observation(
            float(off.max(initial=0.0)), float(ub.error_bound_fn(e.C, e.K, e.Q)), "off-band error"
        ),
        Observation(
            float(inside.max(initial=0.0)),
            float(ub.band_error_bound_float64_fn(e.Q)),
            "in-band error",
        ),
        Observation(
            float(e.in_band.mean()),
            float(ub.band_fraction_bound_fn(e.d, e.L, e.eta, e.K, n)),
            "fraction of samples in the band",
        ),
    ]


def whole_cube_check_name(decoder: str) -> str:
    """The whole-cube check's name for ``decoder`` (the deep one keeps the original name).

    >>> from verify.claims.universality.checks import whole_cube_check_name
    >>> whole_cube_check_name("shallow")
    'whole cube, shallow decoder: pointwise and L_p error, band included'
    """
    if decoder == "deep":
        return "whole cube: pointwise and L_p error, band included"
    return f"whole cube, {decoder} decoder: pointwise and L_p error, band included"


def sample_lp_errors(e: CubeErrors) -> dict[int, tuple[float, float, float]]:
    """Per ``p`` in :data:`LP_EXPONENTS`: the sample ``L_p`` error, the population bound
    ``lp_error_bound`` and the sample bound (plus the Hoeffding deviation) it implies.

    >>> import numpy as np
    >>> from verify.claims.universality.checks import CubeErrors
    >>> from verify.claims.universality.checks import sample_lp_errors
    >>> e = CubeErrors(np.array([0.1, 0.1, 0.9, 0.1]), np.array([False, False, True, False]),
    ...                C=1.0, K=8, Q=8, d=1, L=1, eta=2.0**-7)
    >>> {p: round(v[0], 4) for p, v in sample_lp_errors(e).items()}
    {1: 0.3, 2: 0.4583}
    """
    n = e.err.shape[0]
    args = (e.C, e.K, e.Q, e.d, e.L, e.eta)
    return {
        p: (
            float(np.mean(e.err**p) ** (1 / p)),
            float(ub.lp_error_bound_fn(*args, p)),
            float(ub.sample_lp_error_bound_fn(*args, p, n)),
        )
        for p in LP_EXPONENTS
    }


def construct_with_wider_band(f: Callable[..., Any], **kwargs: Any) -> Construction:
    """Planted defect: :func:`reference.construct_universal` with a band 8 times wider than the
    theorem states (capped at ``1/(4K)``), so inputs the theorem covers fall in the real band."""
    c = construct_universal(f, **kwargs)
    return construct_universal(f, **kwargs, band=min(8 * c.band, 1 / (4 * c.K)))


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares slope of ``log2(sup error)`` against ``log2 K``."""

    Ks: tuple[int, ...]
    errors: tuple[float, ...]
    bounds: tuple[float, ...]
    slope: float


def fit_log_slope(Ks: Sequence[float], errors: Sequence[float]) -> float:
    """Slope of the least-squares line through ``(log2 K, log2 error)``.

    >>> from verify.claims.universality.checks import fit_log_slope
    >>> round(fit_log_slope([2, 4, 8], [0.5, 0.25, 0.125]), 6)
    -1.0
    """
    x, y = np.log2(np.asarray(Ks, float)), np.log2(np.asarray(errors, float))
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x * x).sum())


def check_slope(slope: float) -> Observation:
    """``|slope + 1| <= SLOPE_TOLERANCE``: the fitted log-log slope is close to ``-1``.

    >>> from verify.claims.universality.checks import check_slope
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
def check_memorized(case: MemorizationCase, corrupt: Corruption | None = None) -> list[Observation]:
    """Every output token within ``1/(2Q)`` (``<= ε/2``); the prompt has ``L K^d`` rows (counted
    in the array), the bits per row and ``K(δ)`` equal the sympy ones.

    ``corrupt`` breaks the construction before it is checked (planted violations:
    :func:`complement_first_row`, :func:`drop_last_row`)."""
    c = construct_memorizer(case.xs, case.ys, eps=case.eps, separation=case.separation)
    if corrupt is not None:
        c = corrupt(c, case.xs)
    _, L, d = case.xs.shape
    err = float(np.abs(c.forward(case.xs, on_band="ignore") - case.ys).max())
    rows = int(ub.prompt_rows_fn(d, L, c.K))
    bits = float(ub.bits_per_row_fn(d, L, c.K, c.Q))
    K_sym = int(ub.memorizer_cells_per_axis_fn(case.separation))
    return [
        Observation(err, float(ub.memorizer_error_bound_fn(c.Q)), "memorization error"),
        Observation(abs(dense_parts(c)[1].shape[0] - rows), 0, "prompt rows - L K^d", exact=True),
        Observation(abs(c.bits_per_row - bits), 0.0, "bits per row - sympy", exact=True),
        Observation(abs(c.K - K_sym), 0.0, "K - K(delta)", exact=True),
    ]
