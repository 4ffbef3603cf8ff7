"""Checks of theory.md §4: constructions versus the capacity bounds, and the property checks.

* :func:`memorization_count`: for a built construction (``.model``, ``.prompt``, ``.K``, ``.Q``,
  ``.d``, ``.L``, ``.prompt_rows``, ``.bits_per_row``), its prompt rows against the formula, its
  error on a dataset off its boundary band (the covering theorem's premise), and the capacity
  and bits ratios against Theorems 3 and 1 (remarks: structurally ``>= 1``, docs/capacity.md §5).
* :func:`construction_count`, :func:`memorizer_count`: the same for ``construct_universal`` on a
  packing member at cell-centre packing centres and for ``construct_memorizer`` on ``N``
  two-level sequences; ``*_worker``: as JSON-ready rows for ``ctx.map``.
* :func:`planted_low_precision_count`, :func:`planted_insensitive_count`: constructions that
  undercut a bound (too few bits; too few rows for their ``Λ``), flagged by
  :func:`capacity_observations`.
* :func:`empirical_prompt_lipschitz`: the largest finite-difference ratio seen over random
  prompt perturbations — a lower estimate of the true constant, to set against the bound.
* :func:`lipschitz_pair_check`, :func:`packing_check`, :func:`permutation_check`,
  :func:`construction_observations`: the property checks shared by the tests and the report.
* :func:`wang_floor`, :func:`wang_observations`: the Wang-style floor from the sympy pair floor,
  and trained losses never below it.

>>> from verify.claims.capacity.checks import construction_count
>>> from verify.claims.capacity.checks import memorization_observations
>>> from verify.claims.capacity.strategies import ConstructionCase
>>> count = construction_count(ConstructionCase(1, 1, 0.25, 1.0))
>>> count.rows_match_formula, [o.label for o in memorization_observations(count) if not o.holds]
(True, [])
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from reference import Transformer, prompt_forward
from reference._validation import open_unit_interval, positive_float, positive_int
from reference.constructions.packing import cell_centers, grid_cells
from reference.constructions.universality import grid_sizes
from reference.model.capacity import permutation_defect
from reference.model.lipschitz import prompt_lipschitz_bound
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.packing import packing_member
from verify.claims.capacity.strategies import (
    ConstructionCase,
    MemorizerCase,
    PackingCase,
    PackingTarget,
    PermutationCase,
    PromptPairCase,
    cell_centre_packing,
    unit_grid_packing,
)
from verify.claims.properties import Observation


# --------------------------------------------------------------------------- prompt Lipschitz
def empirical_prompt_lipschitz(
    model: Transformer,
    prompt: np.ndarray,
    xs: np.ndarray,
    *,
    rng: np.random.Generator,
    steps: tuple[float, ...] = (1e-6, 1e-3, 1e-1),
    trials: int = 8,
    unit_roundoff: float = 2.0**-53,
) -> float:
    """Largest ``||Δ output||_max / ||Δ prompt||_max`` over random sign perturbations of size
    ``step · max(1, max|prompt|)``: a lower estimate of the prompt Lipschitz constant at ``xs``.

    Output changes are first reduced by a rounding allowance ``64 · unit_roundoff ·
    max(1, |output|)`` (changes below it count as zero), so tiny steps do not turn rounding
    noise into slope.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from verify.claims.capacity.checks import empirical_prompt_lipschitz
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(1, rng=rng, width=2)
    >>> empirical_prompt_lipschitz(m, np.zeros((1, 2)), rng.random((2, 3, 1)), rng=rng) > 0
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected numpy.random.Generator, got {type(rng).__name__}")
    trials = positive_int("trials", trials)
    base = prompt_forward(model, prompt, xs)  # (B, L, d)
    base_max = float(np.max(np.abs(np.asarray(base, dtype=np.float64))))
    noise = 64 * positive_float("unit_roundoff", unit_roundoff) * max(1.0, base_max)
    scale = max(1.0, float(np.max(np.abs(np.asarray(prompt, dtype=np.float64)), initial=0.0)))
    worst = 0.0
    for step in steps:
        for _ in range(trials):
            direction = rng.choice([-1.0, 1.0], size=np.shape(prompt))  # (Lp, D)
            delta = positive_float("steps", step) * scale
            moved = prompt_forward(model, prompt + delta * direction, xs)  # (B, L, d)
            change = float(np.max(np.abs(np.asarray(moved - base, dtype=np.float64))))
            worst = max(worst, max(0.0, change - noise) / delta)
    return worst


# --------------------------------------------------------------------------- constructions
class ConstructionLike(Protocol):
    """What :func:`memorization_count` reads from a construction (reference.Construction)."""

    model: Transformer
    prompt: np.ndarray
    K: int
    Q: int
    d: int
    L: int
    prompt_rows: int
    bits_per_row: float
    precision_bits: int | None


@dataclass(frozen=True)
class MemorizationCount:
    """A construction's resources, measured error, and the capacity ratios against the bounds.

    ``capacity_ratio = D Lp log2(4 Λ R_P / eps) / packing_log2`` and ``bits_ratio = b / b_min``
    are ``>= 1`` by Theorems 3 and 1 for every construction meeting the premise; for the
    constructions of this suite both hold by a structural margin (docs/capacity.md §5), so they
    are reported as remarks (:func:`capacity_observations`), not counted as checks.
    """

    d: int
    L: int
    K: int
    Q: int
    eps: float
    lipschitz: float | None
    width: int
    value_width: int
    prompt_rows: int
    declared_rows: int
    prompt_rows_formula: int
    packing_log2: float
    capacity_ratio: float
    capacity_ratio_lambda_empirical: float
    bits_per_row: float
    precision_bits: int
    precision_bits_lower: float
    bits_ratio: float
    prompt_radius: float
    log2_lipschitz_bound: float
    log2_lipschitz_empirical: float
    log2_lipschitz_required: float
    memorization_error: float
    dataset_size: int
    in_band: int
    n_sequences: int | None = None

    @property
    def rows_match_formula(self) -> bool:
        """The prompt has exactly the formula's rows (and says so)."""
        return self.prompt_rows == self.prompt_rows_formula == self.declared_rows

    @property
    def premise_holds(self) -> bool:
        """The covering theorem's premise was measured: the dataset is non-empty and lies off
        the construction's boundary band, where its guarantee applies."""
        return self.dataset_size > 0 and self.in_band == 0

    @property
    def token_lower_bound(self) -> float:
        """``packing_log2 / (D log2(4 Λ R_P / eps))`` rows (``inf`` when no length works)."""
        if self.capacity_ratio <= 0:
            return float("inf")
        return self.prompt_rows / self.capacity_ratio

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["premise_holds"] = self.premise_holds
        row["token_lower_bound"] = self.token_lower_bound
        return row


def grid_centre_sequences(d: int, length: int, k: int) -> np.ndarray:
    """All ``K^{dL}`` sequences of cell centres ``(c + 1/2)/K``: shape ``(K^{dL}, L, d)``.

    >>> from verify.claims.capacity.checks import grid_centre_sequences
    >>> grid_centre_sequences(1, 2, 2)[:, :, 0].tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    return cell_centers(grid_cells(d, length, k), d, k)  # (S, L, d)


def memorization_count(
    construction: ConstructionLike,
    *,
    eps: float,
    packing_log2: float,
    rows_formula: Callable[[int, int, int], int],
    rng: np.random.Generator,
    lipschitz: float | None = None,
    dataset: tuple[np.ndarray, np.ndarray] | None = None,
    max_probes: int = 128,
    probe: bool = True,
    empirical: bool = True,
    n_sequences: int | None = None,
) -> MemorizationCount:
    """Measure a construction against the bounds of theory.md §4 (docs/capacity.md §5).

    ``packing_log2`` is the ``log2`` of the number of targets its prompts must separate (the
    packing bits ``M`` of the centres it is evaluated at, or ``N L d`` for a memorizer of ``N``
    sequences). ``rows_formula(d, L, K)`` is the upper-bound formula for its prompt rows.
    The capacity ratio uses the construction's own width ``D``, prompt radius ``R_P = max |P|``
    and the bound ``Λ`` of :func:`reference.model.lipschitz.prompt_lipschitz_bound` (and, for the
    table only, an empirical lower estimate of ``Λ`` from finite differences on the grid-centre
    sequences, at most ``max_probes``, down to ``2^{-precision_bits}``); the bits ratio uses its
    value width ``d_v`` and its significand bits (``precision_bits``; 53 for float64). With
    ``dataset = (xs, ys)`` the largest output error on it is measured and the sequences in the
    construction's boundary band (``off_band``, where it has one) are counted: the premise holds
    when none is. ``probe=False`` skips every forward pass (error and empirical ``Λ`` ``nan``);
    ``empirical=False`` skips only the empirical ``Λ`` (slow on mpmath object arrays).
    """
    eps = open_unit_interval("eps", eps)
    packing_log2 = positive_float("packing_log2", packing_log2)
    if n_sequences is not None:
        n_sequences = positive_int("n_sequences", n_sequences)
    if lipschitz is not None:
        lipschitz = positive_float("lipschitz", lipschitz)
    model = construction.model
    d, length, k, q = construction.d, construction.L, construction.K, construction.Q
    prompt = np.asarray(construction.prompt)
    radius = float(np.max(np.abs(prompt.astype(np.float64))))
    lam = prompt_lipschitz_bound(model, prompt_radius=max(radius, 1e-300), input_length=length)
    rows = int(np.shape(prompt)[0])
    precision = construction.precision_bits
    if precision is None:  # float64 backend
        precision = int(np.finfo(np.float64).nmant + 1)
    probes = grid_centre_sequences(d, length, k)  # (S, L, d)
    if probes.shape[0] > max_probes:
        probes = probes[rng.choice(probes.shape[0], size=max_probes, replace=False)]
    steps = tuple(2.0 ** -np.arange(0, precision, 3))
    working = getattr(construction, "working_precision", contextlib.nullcontext)
    error, lam_emp, size, in_band = float("nan"), float("nan"), 0, 0
    if dataset is not None:
        xs, ys = dataset
        size = int(np.shape(xs)[0])
        off_band = getattr(construction, "off_band", None)
        if off_band is not None:
            in_band = int(np.sum(~np.asarray(off_band(xs), dtype=bool)))
    with working():
        if probe and empirical:
            lam_emp = empirical_prompt_lipschitz(
                model, prompt, probes, rng=rng, steps=steps, trials=3, unit_roundoff=2.0**-precision
            )
        if dataset is not None and probe:
            convert = getattr(construction, "convert", lambda x: x)
            out = prompt_forward(model, prompt, convert(xs))  # (N, L, d)
            error = float(np.max(np.abs(np.asarray(out, dtype=np.float64) - ys)))
    value_width = int(model.attn.w_v.shape[1])
    log2_emp = float("nan") if np.isnan(lam_emp) else float(np.log2(max(lam_emp, 1e-300)))
    width = model.width

    def ratio(log2_lam: float) -> float:
        if np.isnan(log2_lam):  # no empirical estimate (probe=False)
            return float("nan")
        return float(cap.capacity_ratio_fn(eps, log2_lam, radius, width, rows, packing_log2))

    return MemorizationCount(
        d=d,
        L=length,
        K=k,
        Q=q,
        eps=eps,
        lipschitz=lipschitz,
        width=width,
        value_width=value_width,
        prompt_rows=rows,
        declared_rows=int(construction.prompt_rows),
        prompt_rows_formula=int(rows_formula(d, length, k)),
        packing_log2=packing_log2,
        capacity_ratio=ratio(lam.log2),
        capacity_ratio_lambda_empirical=ratio(log2_emp),
        bits_per_row=float(construction.bits_per_row),
        precision_bits=int(precision),
        precision_bits_lower=float(cap.precision_bits_lower_fn(d, k, length, q, value_width)),
        bits_ratio=float(cap.bits_ratio_fn(precision, d, k, length, q, value_width)),
        prompt_radius=radius,
        log2_lipschitz_bound=lam.log2,
        log2_lipschitz_empirical=log2_emp,
        log2_lipschitz_required=float(
            cap.log2_lambda_required_fn(packing_log2, eps, width, rows, radius)
        ),
        memorization_error=error,
        dataset_size=size,
        in_band=in_band,
        n_sequences=n_sequences,
    )


def memorization_observations(count: MemorizationCount) -> list[Observation]:
    """The counted checks of a construction (each can fail; planted violations in the docs).

    * ``rows - formula`` (exact): prompt rows equal the formula and the declared rows;
    * ``memorization error`` (bound): where the premise holds (dataset off the band), the
      largest error on the dataset is ``<= eps``.
    """
    observations = [
        Observation(
            float(abs(count.prompt_rows - count.prompt_rows_formula))
            + abs(count.declared_rows - count.prompt_rows_formula),
            0.0,
            "rows - formula",
            exact=True,
        ),
    ]
    if count.premise_holds and np.isfinite(count.memorization_error):
        observations.append(Observation(count.memorization_error, count.eps, "memorization error"))
    return observations


def capacity_observations(count: MemorizationCount) -> list[Observation]:
    """The remarks: packing bits ``<=`` covering bits (Theorem 3) and ``b_min <= b`` (Theorem 1).

    Structurally guaranteed for the suite's constructions (docs/capacity.md §5): reported in the
    tables, never counted; a construction that undercuts a bound is flagged here (the planted
    violations).

    >>> from verify.claims.capacity.checks import capacity_observations
    >>> from verify.claims.capacity.checks import construction_count
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> count = construction_count(ConstructionCase(1, 1, 0.25, 1.0))
    >>> [o.holds for o in capacity_observations(count)]
    [True, True]
    """
    return [
        Observation(1.0, count.capacity_ratio, "packing bits / covering bits"),
        Observation(1.0, count.bits_ratio, "bits lower / used"),
    ]


#: Relative slack of the Wang floor check: trained losses must stay ``>= floor (1 - slack)``;
#: the floor and the loss are both float64 means of squares, equal up to rounding at the optimum.
WANG_FLOOR_SLACK = 1e-9


def wang_floor(ys: np.ndarray, permutation: np.ndarray) -> float:
    """The Wang-style floor from the sympy pair floor ``(a - b)^2 / 2``
    (:data:`verify.claims.capacity.bounds.wang_pair_floor`) over the ``2 L d`` squared errors; must
    equal :func:`reference.model.capacity.wang_loss_floor` (tied in ``tests/test_capacity.py``).

    >>> import numpy as np
    >>> from verify.claims.capacity.checks import wang_floor
    >>> wang_floor(np.array([[[0.0]], [[1.0]]]), np.array([0]))
    0.25
    """
    ys = np.asarray(ys, dtype=np.float64)  # (2, L, d)
    perm = np.asarray(permutation)  # (L,)
    pairs = cap.wang_pair_floor_fn(ys[0][perm], ys[1])  # (L, d)
    return float(np.sum(pairs) / cap.wang_mse_denominator_fn(ys.shape[2], ys.shape[1]))


def wang_observations(floor: float, losses: list[float]) -> list[Observation]:
    """Each trained loss against the exact floor: ``floor (1 - slack) <= loss``.

    >>> from verify.claims.capacity.checks import wang_observations
    >>> [o.holds for o in wang_observations(0.5, [0.6, 0.5, 0.4])]
    [True, True, False]
    """
    return [
        Observation(floor * (1 - WANG_FLOOR_SLACK), float(loss), "floor / trained loss")
        for loss in losses
    ]


# --------------------------------------------------------------------------- property checks
def lipschitz_pair_check(factor: float) -> Callable[[PromptPairCase], Observation]:
    """Check ``||Δ output|| / ||Δ prompt|| <= factor · Λ`` (``factor < 1``: planted violation)."""

    def check(case: PromptPairCase) -> Observation:
        bound = prompt_lipschitz_bound(
            case.model, prompt_radius=case.radius, input_length=case.xs.shape[1]
        ).total
        change = np.abs(
            prompt_forward(case.model, case.prompt, case.xs)
            - prompt_forward(case.model, case.other, case.xs)
        ).max()
        distance = np.abs(case.prompt - case.other).max()
        return Observation(float(change / distance), factor * bound, "output change / distance")

    return check


def packing_check(claimed_factor: float) -> Callable[[PackingCase], list[Observation]]:
    """Members built with slope ``C``, checked against the claimed constant ``factor · C``."""

    def check(case: PackingCase) -> list[Observation]:
        slope = case.lipschitz
        eps = case.eps
        f = packing_member(np.stack([case.x, case.y]), case.signs, eps=eps, lipschitz=slope)
        distance = np.abs(case.x - case.y).max()
        flipped = np.argwhere(case.signs != case.other_signs)[0][: case.d * case.L]
        m = case.signs.shape[0]
        centre = ((flipped + 0.5) / m).reshape(case.L, case.d)  # (L, d)
        at_centre = [
            packing_member(centre, s, eps=eps, lipschitz=slope)
            for s in (case.signs, case.other_signs)
        ]
        separation = np.abs(at_centre[0] - at_centre[1]).max()
        return [
            Observation(
                float(np.abs(f[0] - f[1]).max()),
                claimed_factor * slope * distance * (1 + 1e-12) + 1e-15,  # rounding
                "Lipschitz",
            ),
            Observation(float(np.abs(f - 0.5).max()), 0.5, "|f - 1/2|"),
            Observation(
                float(cap.packing_separation_fn(eps)),
                float(separation) * (1 + 1e-12) + 1e-15,  # rounding of 1/2 ± 2 eps
                "4 eps / separation",
            ),
        ]

    return check


def permutation_check(case: PermutationCase) -> Observation:
    """``τ([P; Xπ]) = τ([P; X])π`` to rounding (fails for models with positions)."""
    defect = permutation_defect(case.model, case.prompt, case.x, case.permutation)
    scale = np.abs(prompt_forward(case.model, case.prompt, case.x)).max()
    return Observation(defect, 1e-12 * max(1.0, float(scale)), "permutation defect")


# --------------------------------------------------------------------------- construction sweep
def packing_target(case: ConstructionCase) -> PackingTarget:
    """The packing member the construction of ``case`` must realise: centres at cell centres
    of its grid (``centres="cells"``) or at ``(j + 1/2)/m`` (``"unit"``), signs from the seed.

    >>> from verify.claims.capacity.checks import packing_target
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> packing_target(ConstructionCase(1, 1, 0.125, 1.0)).centres
    (0.0625, 0.5625)
    """
    k = grid_sizes(case.eps, case.lipschitz)[0]
    if case.centres == "cells":
        centres = cell_centre_packing(case.eps, case.lipschitz, k)
    elif case.centres == "unit":
        centres = unit_grid_packing(case.eps, case.lipschitz)
    else:
        raise ValueError(f"case.centres: expected 'cells' or 'unit', got {case.centres!r}")
    return PackingTarget(case.d, case.L, case.eps, case.lipschitz, centres, case.seed)


def build_construction(case: ConstructionCase, *, drop_row: int | None = None) -> Any:
    """``construct_universal`` for :func:`packing_target` of ``case`` (``drop_row = i``
    deletes prompt row ``i`` but keeps the declared count: a planted violation)."""
    from reference.constructions.universality import construct_universal

    built = construct_universal(
        packing_target(case),
        d=case.d,
        L=case.L,
        lipschitz=case.lipschitz,
        eps=case.eps,
        backend=case.backend,
        precision_bits=case.precision_bits,
        check_precision=case.precision_bits is None,
    )
    if drop_row is not None:
        built = dataclasses.replace(built, prompt=np.delete(built.prompt, drop_row, axis=0))
    return built


def rows_formula(d: int, length: int, k: int) -> int:
    """The construction's prompt rows ``L K^d`` from :mod:`verify.claims.universality.bounds`."""
    from verify.claims.universality.bounds import prompt_rows_fn

    return int(prompt_rows_fn(d, length, k))


def construction_count(
    case: ConstructionCase, *, drop_row: int | None = None, wrong_target: bool = False
) -> MemorizationCount:
    """:func:`memorization_count` of the construction of ``case`` on its packing member, at all
    packing centre sequences, against the packing bits ``d L m^{dL}`` of those centres.

    ``drop_row`` (see :func:`build_construction`) and ``wrong_target`` (measure against the
    member with every sign flipped, ``1 - f``: a prompt built for the wrong target) plant
    violations.

    >>> from verify.claims.capacity.checks import construction_count
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> count = construction_count(ConstructionCase(1, 2, 0.25, 1.0))
    >>> count.prompt_rows, count.premise_holds
    (8, True)
    """
    built = build_construction(case, drop_row=drop_row)
    target = packing_target(case)
    xs = target.centre_sequences()  # (m^{dL}, L, d)
    m = len(target.centres)
    return memorization_count(
        built,
        lipschitz=case.lipschitz,
        eps=case.eps,
        packing_log2=float(cap.packing_log2_count_centres_fn(case.d, case.L, m)),
        rows_formula=rows_formula,
        rng=np.random.default_rng(case.seed),
        dataset=(xs, 1.0 - target(xs) if wrong_target else target(xs)),
        probe=case.probe,
        empirical=case.backend == "float64",
    )


def construction_observations(
    drop_row: int | None = None, wrong_target: bool = False
) -> Callable[[ConstructionCase], list[Observation]]:
    """Property check: the construction of a drawn case meets the memorization count (planted:
    ``drop_row``, ``wrong_target``; see :func:`construction_count`)."""

    def check(case: ConstructionCase) -> list[Observation]:
        return memorization_observations(
            construction_count(case, drop_row=drop_row, wrong_target=wrong_target)
        )

    return check


def count_row(count: MemorizationCount, construction: str, backend: str) -> dict[str, Any]:
    """A count as a JSON-ready row with the verdicts of its checks and of its remarks.

    >>> from verify.claims.capacity.checks import construction_count
    >>> from verify.claims.capacity.checks import count_row
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> row = count_row(construction_count(ConstructionCase(1, 1, 0.25, 1.0)), "universal", "f")
    >>> row["passed"], row["capacity_ratio_at_least_1"], row["bits_ratio_at_least_1"]
    (True, True, True)
    """
    observations = memorization_observations(count)
    row = count.to_row()
    row["backend"] = backend
    row["construction"] = construction
    row["checks"] = {o.label: bool(o.holds) for o in observations}
    row["ratios"] = {o.label: o.ratio for o in observations}
    covering, bits = capacity_observations(count)
    row["capacity_ratio_at_least_1"] = bool(covering.holds)  # remarks, not counted
    row["bits_ratio_at_least_1"] = bool(bits.holds)
    row["passed"] = all(o.holds for o in observations)
    return row


def construction_worker(case: ConstructionCase) -> dict[str, Any]:
    """:func:`construction_count` as a row of :func:`count_row` (top-level, picklable).

    >>> from verify.claims.capacity.checks import construction_worker
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> construction_worker(ConstructionCase(1, 1, 0.25, 1.0))["passed"]
    True
    """
    return count_row(construction_count(case), "universal", case.backend)


def memorizer_count(case: MemorizerCase, *, drop_row: int | None = None) -> MemorizationCount:
    """:func:`memorization_count` of ``construct_memorizer`` on the two-level dataset of
    ``case``, against the dataset packing bits ``N L d``.

    >>> from verify.claims.capacity.checks import memorizer_count
    >>> from verify.claims.capacity.strategies import MemorizerCase
    >>> memorizer_count(MemorizerCase(4, 1, 2, 0.25, 0.25)).capacity_ratio > 1
    True
    """
    from reference.constructions.memorization import construct_memorizer

    xs, ys = case.dataset()
    built = construct_memorizer(xs, ys, eps=case.eps, separation=case.separation)
    if drop_row is not None:
        built = dataclasses.replace(built, prompt=np.delete(built.prompt, drop_row, axis=0))
    return memorization_count(
        built,
        eps=case.eps,
        packing_log2=float(cap.dataset_log2_count_fn(case.n_sequences, case.L, case.d)),
        rows_formula=rows_formula,
        rng=np.random.default_rng(case.seed),
        dataset=(xs, ys),
        n_sequences=case.n_sequences,
    )


def memorizer_worker(case: MemorizerCase) -> dict[str, Any]:
    """:func:`memorizer_count` as a row of :func:`count_row` (top-level, picklable).

    >>> from verify.claims.capacity.checks import memorizer_worker
    >>> from verify.claims.capacity.strategies import MemorizerCase
    >>> memorizer_worker(MemorizerCase(4, 1, 2, 0.25, 0.25))["construction"]
    'memorizer'
    """
    return count_row(memorizer_count(case), "memorizer", "float64")


# --------------------------------------------------------------------------- planted
#: The planted low-precision construction: ``d = 1, L = 3, eps = 1/4, C = 1`` (``b_min = 6.4``)
#: built and run by mpmath at 4 significand bits.
PLANTED_LOW_PRECISION = ConstructionCase(1, 3, 0.25, 1.0, backend="mpmath", precision_bits=4)


def planted_low_precision_count() -> MemorizationCount:
    """A real construction computed with fewer significand bits than Theorem 1 requires: the
    bits comparison flags it (and, as the theorem predicts, it does not memorize).

    >>> from verify.claims.capacity.checks import planted_low_precision_count
    >>> count = planted_low_precision_count()
    >>> count.bits_ratio < 1, count.memorization_error > count.eps
    (True, True)
    """
    return construction_count(PLANTED_LOW_PRECISION)


@dataclass(frozen=True)
class InsensitiveConstruction:
    """A planted "construction": a frozen model with weights scaled by ``1e-3`` (so ``Λ`` is
    tiny) and a one-row prompt that claims to realise a packing member at ``eps = 1/64``: far
    too few prompt rows for its ``Λ``."""

    model: Transformer
    prompt: np.ndarray  # (1, D)
    K: int
    Q: int
    bits_per_row: float
    d: int = 1
    L: int = 1
    prompt_rows: int = 1
    precision_bits: int | None = None


def planted_insensitive_count() -> MemorizationCount:
    """:func:`memorization_count` of :class:`InsensitiveConstruction` against the packing bits
    of ``eps = 1/64, C = 1``: its capacity ratio is below 1 (too few rows for its ``Λ``).

    >>> from verify.claims.capacity.checks import planted_insensitive_count
    >>> planted_insensitive_count().capacity_ratio < 1
    True
    """
    eps = 1 / 64
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=3, weight_scale=1e-3)
    k, q = grid_sizes(eps, 1.0)
    bits = float(cap.table_bits.subs({cap.d: 1, cap.K: k, cap.L: 1, cap.Q: q}))
    fake = InsensitiveConstruction(model, rng.uniform(-1, 1, (1, 3)), k, q, bits)
    return memorization_count(
        fake,
        eps=eps,
        lipschitz=1.0,
        packing_log2=float(cap.packing_log2_count_fn(eps, 1.0, 1, 1)),
        rows_formula=lambda d, length, k: 1,
        rng=rng,
    )
