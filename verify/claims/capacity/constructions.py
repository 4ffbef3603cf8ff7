"""The construction sweep of theory.md §4: constructions measured by the memorization count.

* :func:`construction_count`, :func:`memorizer_count`: the memorization count
  (:func:`verify.claims.capacity.checks.memorization_count`) of ``construct_universal`` on a
  packing member at cell-centre packing centres and of ``construct_memorizer`` on ``N``
  two-level sequences (planted violations: a dropped prompt row, a prompt for the wrong
  target); :func:`construction_observations`: the property check built on them.
* :func:`count_row`, ``*_worker``: counts as JSON-ready rows for ``ctx.map``.
* :func:`planted_low_precision_count`, :func:`planted_insensitive_count`: constructions that
  undercut a bound (too few bits; too few rows for their ``Λ``), flagged by
  :func:`~verify.claims.capacity.checks.capacity_observations`.

>>> from verify.claims.capacity.constructions import construction_worker
>>> from verify.claims.capacity.strategies import ConstructionCase
>>> construction_worker(ConstructionCase(1, 1, 0.25, 1.0))["construction"]
'universal'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference import Transformer
from reference.constructions.universality import grid_sizes
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.checks import (
    MemorizationCount,
    capacity_observations,
    memorization_count,
    memorization_observations,
)
from verify.claims.capacity.strategies import (
    ConstructionCase,
    MemorizerCase,
    PackingTarget,
    cell_centre_packing,
    unit_grid_packing,
)
from verify.claims.properties import Observation


# --------------------------------------------------------------------------- construction sweep
def packing_target(case: ConstructionCase) -> PackingTarget:
    """The packing member the construction of ``case`` must realise: centres at cell centres
    of its grid (``centres="cells"``) or at ``(j + 1/2)/m`` (``"unit"``), signs from the seed.

    >>> from verify.claims.capacity.constructions import packing_target
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
        prompt = np.delete(np.asarray(built.prompt), drop_row, axis=0)
        built = dataclasses.replace(built, prompt=prompt)
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

    >>> from verify.claims.capacity.constructions import construction_count
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

    >>> from verify.claims.capacity.constructions import construction_count
    >>> from verify.claims.capacity.constructions import count_row
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

    >>> from verify.claims.capacity.constructions import construction_worker
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> construction_worker(ConstructionCase(1, 1, 0.25, 1.0))["passed"]
    True
    """
    return count_row(construction_count(case), "universal", case.backend)


def memorizer_count(case: MemorizerCase, *, drop_row: int | None = None) -> MemorizationCount:
    """:func:`memorization_count` of ``construct_memorizer`` on the two-level dataset of
    ``case``, against the dataset packing bits ``N L d``.

    >>> from verify.claims.capacity.constructions import memorizer_count
    >>> from verify.claims.capacity.strategies import MemorizerCase
    >>> memorizer_count(MemorizerCase(4, 1, 2, 0.25, 0.25)).capacity_ratio > 1
    True
    """
    from reference.constructions.memorization import construct_memorizer

    xs, ys = case.dataset()
    built = construct_memorizer(xs, ys, eps=case.eps, separation=case.separation)
    if drop_row is not None:
        prompt = np.delete(np.asarray(built.prompt), drop_row, axis=0)
        built = dataclasses.replace(built, prompt=prompt)
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

    >>> from verify.claims.capacity.constructions import memorizer_worker
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

    >>> from verify.claims.capacity.constructions import planted_low_precision_count
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

    >>> from verify.claims.capacity.constructions import planted_insensitive_count
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
