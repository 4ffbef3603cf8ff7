"""The memorization count of theory.md §4 and the property checks shared by tests and report.

* :func:`memorization_count`: for a built construction (``.model``, ``.prompt``, ``.K``, ``.Q``,
  ``.d``, ``.L``, ``.prompt_rows``, ``.bits_per_row``), its prompt rows against the formula, its
  error on a dataset off its boundary band (the covering theorem's premise), and the capacity
  and bits ratios against Theorems 3 and 1 (remarks: structurally ``>= 1``, docs/capacity.md §5).
* :func:`memorization_observations`: its counted checks; :func:`capacity_observations`: its
  remarks, which flag a construction that undercuts a bound.
* :func:`empirical_prompt_lipschitz`: the largest finite-difference ratio seen over random
  prompt perturbations — a lower estimate of the true constant, to set against the bound.
* :func:`lipschitz_pair_check`, :func:`packing_check`, :func:`permutation_check`: the property
  checks shared by the tests and the report.

The constructions measured by the count (and the planted ones) live in
:mod:`verify.claims.capacity.constructions`; the Wang-style floor in
:mod:`verify.claims.capacity.wang`.

>>> from verify.claims.capacity.checks import memorization_observations
>>> from verify.claims.capacity.constructions import construction_count
>>> from verify.claims.capacity.strategies import ConstructionCase
>>> count = construction_count(ConstructionCase(1, 1, 0.25, 1.0))
>>> count.rows_match_formula, [o.label for o in memorization_observations(count) if not o.holds]
(True, [])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from reference import Transformer, prompt_forward
from reference._validation import open_unit_interval, positive_float, positive_int
from reference.constructions.packing import cell_centers, grid_cells
from reference.model.capacity import permutation_defect
from reference.model.lipschitz import prompt_lipschitz_bound
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.packing import packing_member
from verify.claims.capacity.strategies import PackingCase, PermutationCase, PromptPairCase
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
    """What :func:`memorization_count` reads from a construction (reference.Construction).

    Read-only members, so frozen dataclasses match; ``model`` and ``prompt`` are ``None`` for
    the exact backend (no dense weights), which the count cannot measure.
    """

    @property
    def model(self) -> Transformer | None: ...
    @property
    def prompt(self) -> np.ndarray | None: ...
    @property
    def K(self) -> int: ...
    @property
    def Q(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def L(self) -> int: ...
    @property
    def prompt_rows(self) -> int: ...
    @property
    def bits_per_row(self) -> float: ...
    @property
    def precision_bits(self) -> int | None: ...


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
    model, dense_prompt = construction.model, construction.prompt
    if model is None or dense_prompt is None:
        raise TypeError("construction: expected a dense model and prompt, got None (exact backend)")
    d, length, k, q = construction.d, construction.L, construction.K, construction.Q
    prompt = np.asarray(dense_prompt)
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
    >>> from verify.claims.capacity.constructions import construction_count
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> count = construction_count(ConstructionCase(1, 1, 0.25, 1.0))
    >>> [o.holds for o in capacity_observations(count)]
    [True, True]
    """
    return [
        Observation(1.0, count.capacity_ratio, "packing bits / covering bits"),
        Observation(1.0, count.bits_ratio, "bits lower / used"),
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
