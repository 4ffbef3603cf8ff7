"""Checks of theory.md §4: constructions versus the capacity bounds, and the property checks.

* :func:`memorization_count`: for a built construction (``.model``, ``.prompt``, ``.K``, ``.Q``,
  ``.d``, ``.L``, ``.prompt_rows``, ``.bits_per_row``), its prompt rows against the upper-bound
  formula and against both lower bounds, with the gaps as ``log2`` ratios, and its prompt
  Lipschitz constant (bound, empirical) against the one the token bound requires.
* :func:`construction_count`, :func:`memorizer_count`: the same for ``construct_universal`` on a
  grid-centre dataset and for ``construct_memorizer`` on ``N`` sequences; ``*_worker``: as
  JSON-ready rows for ``ctx.map``.
* :func:`empirical_prompt_lipschitz`: the largest finite-difference ratio seen over random
  prompt perturbations — a lower estimate of the true constant, to set against the bound.
* :func:`lipschitz_pair_check`, :func:`packing_check`, :func:`permutation_check`,
  :func:`construction_observations`: the property checks shared by the tests and the report.

* :func:`wang_observations`: a trained loss never below the Wang-style floor.

>>> from verify.capacity_checks import construction_count, memorization_observations
>>> from verify.strategies.capacity import ConstructionCase
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
from reference._validation import positive_float, positive_int
from reference.capacity import permutation_defect
from reference.construction import cell_centers, grid_cells
from reference.lipschitz import prompt_lipschitz_bound
from verify.bounds import capacity as cap
from verify.packing import packing_member, packing_parameters
from verify.properties import Observation
from verify.strategies.capacity import (
    ConstructionCase,
    MemorizerCase,
    PackingCase,
    PermutationCase,
    PromptPairCase,
    ShiftTarget,
)


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
    >>> from reference.model import Transformer
    >>> from verify.capacity_checks import empirical_prompt_lipschitz
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
    """A construction's prompt size and precision against the formula and the lower bounds."""

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
    token_lower_bound: float
    token_lower_bound_lambda_empirical: float
    bits_per_row: float
    precision_bits: int
    precision_bits_lower: float
    prompt_radius: float
    log2_lipschitz_bound: float
    log2_lipschitz_empirical: float
    log2_lipschitz_required: float
    memorization_error: float
    n_sequences: int | None = None

    @property
    def rows_match_formula(self) -> bool:
        """The prompt has exactly the formula's rows (and says so)."""
        return self.prompt_rows == self.prompt_rows_formula == self.declared_rows

    @property
    def log2_gap_tokens(self) -> float:
        """``log2(prompt rows / token lower bound)`` (``>= 0`` when consistent; ``inf`` when the
        bound is 0, i.e. ``M(eps) = 0``)."""
        with np.errstate(divide="ignore"):
            return float(np.log2(self.prompt_rows) - np.log2(self.token_lower_bound))

    @property
    def log2_gap_precision(self) -> float:
        """``log2(significand bits used / precision lower bound per number)``."""
        return float(np.log2(self.precision_bits / self.precision_bits_lower))

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["log2_gap_tokens"] = self.log2_gap_tokens
        row["log2_gap_precision"] = self.log2_gap_precision
        return row


def grid_centre_sequences(d: int, length: int, k: int) -> np.ndarray:
    """All ``K^{dL}`` sequences of cell centres ``(c + 1/2)/K``: shape ``(K^{dL}, L, d)``.

    >>> from verify.capacity_checks import grid_centre_sequences
    >>> grid_centre_sequences(1, 2, 2)[:, :, 0].tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    return cell_centers(grid_cells(d, length, k), d, k)  # (S, L, d)


def memorization_count(
    construction: ConstructionLike,
    *,
    lipschitz: float | None,
    eps: float,
    rows_formula: Callable[[int, int, int], int],
    rng: np.random.Generator,
    dataset: tuple[np.ndarray, np.ndarray] | None = None,
    max_probes: int = 128,
    probe: bool = True,
    n_sequences: int | None = None,
) -> MemorizationCount:
    """Compare a construction with the bounds of theory.md §4.

    ``rows_formula(d, L, K)`` is the upper-bound formula for its prompt rows (the sympy
    expression of :mod:`verify.bounds.universality`). The token lower bound uses the
    construction's own width ``D``, prompt radius ``R_P = max |P|`` and the bound ``Λ`` of
    :func:`reference.lipschitz.prompt_lipschitz_bound`; the precision bound uses its value
    width ``d_v`` and is compared with the significand bits the construction computes with
    (``precision_bits``; 53 for float64). The empirical ``Λ`` probes the grid-centre sequences
    (at most ``max_probes``) with perturbations down to ``2^{-precision_bits}``. With
    ``dataset = (xs, ys)`` the largest output error on it is recorded (memorized to ``eps``?).
    ``probe=False`` skips every forward pass (empirical ``Λ`` and error become ``nan``): for
    high-precision constructions whose object-array forward is slow. With ``n_sequences = N``
    (a memorizer of ``N`` sequences; ``lipschitz`` may be ``None``) the token lower bound is the
    dataset bound ``N L d / (D log2(4 Λ R_P / eps))`` instead of the packing bound.
    """
    if n_sequences is None:
        eps, lipschitz, _ = packing_parameters(eps, lipschitz, allow_empty=True)  # M may be 0
    else:
        n_sequences = positive_int("n_sequences", n_sequences)
        eps, _, _ = packing_parameters(eps, 1.0, allow_empty=True)
        lipschitz = float("nan") if lipschitz is None else positive_float("lipschitz", lipschitz)
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
    error, empirical = float("nan"), float("nan")
    with working():
        if probe:
            empirical = empirical_prompt_lipschitz(
                model, prompt, probes, rng=rng, steps=steps, trials=3, unit_roundoff=2.0**-precision
            )
        if dataset is not None and probe:
            xs, ys = dataset
            out = prompt_forward(model, prompt, xs)  # (N, L, d)
            error = float(np.max(np.abs(np.asarray(out, dtype=np.float64) - ys)))
    value_width = int(model.attn.w_v.shape[1])
    log2_emp = float(np.log2(empirical)) if empirical > 0 else -np.inf
    if np.isnan(empirical):
        log2_emp = float("nan")
    width = model.width

    def token_bound(log2_lam: float) -> float:
        if np.isnan(log2_lam):  # no empirical estimate (probe=False)
            return float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):  # the oo branch of the Piecewise
            if n_sequences is None:
                return float(
                    cap.token_lower_bound_log2_lambda_fn(
                        eps, lipschitz, d, length, width, log2_lam, radius
                    )
                )
            return float(
                cap.dataset_token_lower_bound_log2_lambda_fn(
                    n_sequences, eps, d, length, width, log2_lam, radius
                )
            )

    token_lb, token_lb_emp = token_bound(lam.log2), token_bound(log2_emp)
    if n_sequences is None:
        log2_required = cap.log2_lipschitz_required_fn(
            eps, lipschitz, d, length, width, rows, radius
        )
    else:
        log2_required = cap.log2_dataset_lipschitz_required_fn(
            n_sequences, eps, d, length, width, rows, radius
        )
    return MemorizationCount(
        d=d,
        L=length,
        K=k,
        Q=q,
        eps=eps,
        lipschitz=lipschitz,
        width=model.width,
        value_width=value_width,
        prompt_rows=rows,
        declared_rows=int(construction.prompt_rows),
        prompt_rows_formula=int(rows_formula(d, length, k)),
        token_lower_bound=token_lb,
        token_lower_bound_lambda_empirical=token_lb_emp,
        bits_per_row=float(construction.bits_per_row),
        precision_bits=int(precision),
        precision_bits_lower=float(cap.precision_bits_lower_fn(d, k, length, q, value_width)),
        prompt_radius=radius,
        log2_lipschitz_bound=lam.log2,
        log2_lipschitz_empirical=log2_emp,
        log2_lipschitz_required=float(log2_required),
        memorization_error=error,
        n_sequences=n_sequences,
    )


def memorization_observations(count: MemorizationCount) -> list[Observation]:
    """The checks of "the memorization token count meets the bound" as observations.

    Prompt rows equal the formula (and the declared rows); rows are never below the token lower
    bound; the significand bits are never below the precision lower bound; the empirical
    prompt-Lipschitz estimate never exceeds the computed bound; the dataset (if given) is
    memorized to ``eps``.
    """
    observations = [
        Observation(
            float(abs(count.prompt_rows - count.prompt_rows_formula))
            + abs(count.declared_rows - count.prompt_rows_formula),
            0.0,
            "rows - formula",
            exact=True,
        ),
        Observation(count.token_lower_bound, float(count.prompt_rows), "token lower bound / rows"),
        Observation(count.precision_bits_lower, float(count.precision_bits), "bits lower / used"),
    ]
    if not np.isnan(count.log2_lipschitz_empirical):
        observations.append(
            Observation(
                float(2.0 ** (count.log2_lipschitz_empirical - count.log2_lipschitz_bound)),
                1.0,
                "empirical / bound prompt-Lipschitz",
            )
        )
    if np.isfinite(count.memorization_error):
        observations.append(Observation(count.memorization_error, count.eps, "memorization error"))
    return observations


#: Relative slack of the Wang floor check: trained losses must stay ``>= floor (1 - slack)``;
#: the floor and the loss are both float64 means of squares, equal up to rounding at the optimum.
WANG_FLOOR_SLACK = 1e-9


def wang_observations(floor: float, losses: list[float]) -> list[Observation]:
    """Each trained loss against the exact floor: ``floor (1 - slack) <= loss``.

    >>> from verify.capacity_checks import wang_observations
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
def build_construction(case: ConstructionCase, *, drop_rows: int = 0) -> tuple[Any, ShiftTarget]:
    """``construct_universal`` for the :class:`ShiftTarget` of ``case`` (``drop_rows > 0``
    removes prompt rows but keeps the declared count: the planted violation)."""
    from reference.universality import construct_universal

    f = ShiftTarget(case.d, case.L, case.lipschitz, case.seed)
    built = construct_universal(
        f, d=case.d, L=case.L, lipschitz=case.lipschitz, eps=case.eps, backend=case.backend
    )
    if drop_rows:
        built = dataclasses.replace(built, prompt=built.prompt[:-drop_rows])
    return built, f


def rows_formula(d: int, length: int, k: int) -> int:
    """The construction's prompt rows ``L K^d`` from :mod:`verify.bounds.universality`."""
    from verify.bounds.universality import prompt_rows_fn

    return int(prompt_rows_fn(d, length, k))


def construction_count(case: ConstructionCase, *, drop_rows: int = 0) -> MemorizationCount:
    """:func:`memorization_count` of the construction of ``case`` on its grid-centre dataset.

    >>> from verify.capacity_checks import construction_count
    >>> from verify.strategies.capacity import ConstructionCase
    >>> construction_count(ConstructionCase(1, 2, 0.25, 1.0)).prompt_rows
    8
    """
    built, f = build_construction(case, drop_rows=drop_rows)
    xs = grid_centre_sequences(case.d, case.L, built.K)  # (S, L, d)
    return memorization_count(
        built,
        lipschitz=case.lipschitz,
        eps=case.eps,
        rows_formula=rows_formula,
        rng=np.random.default_rng(case.seed),
        dataset=(xs, f(xs)),
        probe=case.probe,
    )


def construction_observations(
    drop_rows: int = 0,
) -> Callable[[ConstructionCase], list[Observation]]:
    """Property check: the construction of a drawn case meets the memorization count."""

    def check(case: ConstructionCase) -> list[Observation]:
        return memorization_observations(construction_count(case, drop_rows=drop_rows))

    return check


def construction_worker(case: ConstructionCase) -> dict[str, Any]:
    """:func:`construction_count` as a JSON-ready row with the observations' verdicts
    (top-level and picklable for ``ctx.map``).

    >>> from verify.capacity_checks import construction_worker
    >>> from verify.strategies.capacity import ConstructionCase
    >>> construction_worker(ConstructionCase(1, 1, 0.25, 1.0))["passed"]
    True
    """
    count = construction_count(case)
    observations = memorization_observations(count)
    row = count.to_row()
    row["backend"] = case.backend
    row["construction"] = "universal"
    row["checks"] = {o.label: bool(o.holds) for o in observations}
    row["worst_ratio"] = max(o.ratio for o in observations)
    row["passed"] = all(o.holds for o in observations)
    return row


def memorizer_count(case: MemorizerCase, *, drop_rows: int = 0) -> MemorizationCount:
    """:func:`memorization_count` of ``construct_memorizer`` on the dataset of ``case``, against
    the dataset token bound with ``N`` sequences.

    >>> from verify.capacity_checks import memorizer_count
    >>> from verify.strategies.capacity import MemorizerCase
    >>> memorizer_count(MemorizerCase(4, 1, 2, 0.25, 0.25)).token_lower_bound < 1
    True
    """
    from reference.memorization import construct_memorizer

    xs, ys = case.dataset()
    built = construct_memorizer(xs, ys, eps=case.eps, separation=case.separation)
    if drop_rows:
        built = dataclasses.replace(built, prompt=built.prompt[:-drop_rows])
    return memorization_count(
        built,
        lipschitz=case.lipschitz,
        eps=case.eps,
        rows_formula=rows_formula,
        rng=np.random.default_rng(case.seed),
        dataset=(xs, ys),
        n_sequences=case.n_sequences,
    )


def memorizer_worker(case: MemorizerCase) -> dict[str, Any]:
    """:func:`memorizer_count` as a JSON-ready row (top-level and picklable for ``ctx.map``).

    >>> from verify.capacity_checks import memorizer_worker
    >>> from verify.strategies.capacity import MemorizerCase
    >>> memorizer_worker(MemorizerCase(4, 1, 2, 0.25, 0.25))["construction"]
    'memorizer'
    """
    count = memorizer_count(case)
    observations = memorization_observations(count)
    row = count.to_row()
    row["backend"] = "float64"
    row["construction"] = "memorizer"
    row["checks"] = {o.label: bool(o.holds) for o in observations}
    row["worst_ratio"] = max(o.ratio for o in observations)
    row["passed"] = all(o.holds for o in observations)
    return row
