"""Gradient-based capacity of a random frozen model, and a dataset it cannot memorize.

* :func:`gradient_capacity`: the smallest prompt length (from a given increasing list) at which
  :func:`reference.train_prompt` (full-batch Adam, several seeded restarts, a fixed step budget)
  memorizes ``N`` pairs to a max-norm ``tolerance``; the raw losses of every trial are kept.
  :class:`CapacitySpec` / :func:`run_capacity_spec` wrap one grid point (a random frozen model
  and ``N`` random pairs, all from one seed) as a picklable job for a sweep.
* :func:`wang_dataset`: two input sequences that are row permutations of each other, with targets
  that disagree on the permuted rows. Without a positional encoding, unmasked attention is
  permutation-equivariant and ``FFN``s are token-wise, so ``τ([P; X π]) = τ([P; X]) π`` for EVERY
  prompt ``P`` (each row keeps its query and its context contribution: the prompt bottleneck of
  theory.md §2). The mean squared error is therefore at least :attr:`WangDataset.loss_floor`,
  at any prompt length (Wang, Chauhan, Wang, Hsieh 2023: a given layer cannot memorize some data).
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass

import numpy as np

from reference._validation import (
    MAX_ELEMENTS,
    NumericalOverflow,
    as_array,
    as_rng,
    check_elements,
    positive_float,
    positive_int,
)
from reference.model.prompt_tuning import (
    _check_inputs,
    _check_prompt,
    check_model,
    prompt_forward,
)
from reference.model.training import init_prompt_normal, train_prompt
from reference.model.transformer import Transformer

#: The most restarts per prompt length (each is a whole training run).
MAX_RESTARTS = 1000


def _check_lengths(prompt_lengths: object) -> tuple[int, ...]:
    if not isinstance(prompt_lengths, (list, tuple)) or len(prompt_lengths) == 0:
        raise ValueError(
            f"prompt_lengths: expected a non-empty list of integers >= 1, got {prompt_lengths!r}"
        )
    lengths = tuple(positive_int("prompt_lengths", v) for v in prompt_lengths)
    if any(b <= a for a, b in itertools.pairwise(lengths)):
        raise ValueError(f"prompt_lengths: expected strictly increasing values, got {lengths}")
    return lengths


def random_pairs(
    n_pairs: int, *, d: int, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` input sequences and targets, all entries i.i.d. uniform on ``[0, 1]``.

    >>> import numpy as np
    >>> from reference.model.capacity import random_pairs
    >>> xs, ys = random_pairs(3, d=2, length=4, rng=np.random.default_rng(0))
    >>> xs.shape, ys.shape
    ((3, 4, 2), (3, 4, 2))
    """
    n_pairs = positive_int("n_pairs", n_pairs, maximum=MAX_ELEMENTS)
    d = positive_int("d", d, maximum=MAX_ELEMENTS)
    length = positive_int("length", length, maximum=MAX_ELEMENTS)
    check_elements("n_pairs", n_pairs * length * d, "entries per array (n_pairs·length·d)")
    rng = as_rng(rng)
    xs = rng.random((n_pairs, length, d))  # (N, L, d)
    ys = rng.random((n_pairs, length, d))  # (N, L, d)
    return xs, ys


@dataclass(frozen=True)
class LengthTrial:
    """All restarts at one prompt length: best MSE, max-norm error, steps, ``max |P|`` of each."""

    prompt_length: int
    losses: tuple[float, ...]
    max_errors: tuple[float, ...]
    steps: tuple[int, ...]
    radii: tuple[float, ...]
    memorized: bool
    reasons: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        """Every restart stopped on the target or on a certified plateau (not on the step cap)."""
        return all(r in ("target_loss", "plateau") for r in self.reasons)


@dataclass(frozen=True)
class CapacityResult:
    """The trials of :func:`gradient_capacity` and the smallest memorizing prompt length."""

    n_pairs: int
    d: int
    input_length: int
    width: int
    tolerance: float
    trials: tuple[LengthTrial, ...]

    @property
    def smallest_length(self) -> int | None:
        """First prompt length at which some restart memorized (``None``: none did)."""
        return next((t.prompt_length for t in self.trials if t.memorized), None)


def gradient_capacity(
    model: Transformer,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    tolerance: float,
    prompt_lengths: list[int] | tuple[int, ...],
    rng: np.random.Generator,
    restarts: int = 2,
    max_steps: int = 2000,
    lr: float = 0.1,
    patience: int = 500,
    min_improvement: float = 1e-4,
    stop_at_first: bool = True,
) -> CapacityResult:
    """Train prompts of increasing length until one memorizes ``(xs, ys)`` to ``tolerance``.

    "Memorizes" means ``max |prompt_forward(model, P, xs) - ys| <= tolerance`` for the best
    prompt of a run. Each run starts from ``N(0, 1)`` entries drawn from ``rng`` and stops when
    the loss reaches ``tolerance² / (N L d)`` (then the max-norm error is ``<= tolerance``), on a
    certified plateau (the best loss improved by less than a relative ``min_improvement`` over
    the last ``patience`` steps), or at the cap ``max_steps``; each restart's reason is kept
    (:attr:`LengthTrial.converged`: no restart hit the cap). With ``stop_at_first`` the scan ends
    at the first memorizing length.

    >>> import numpy as np
    >>> from reference.model.capacity import gradient_capacity
    >>> from reference.model.capacity import random_pairs
    >>> from reference.model.transformer import Transformer
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(1, rng=rng, width=2)
    >>> xs, ys = random_pairs(1, d=1, length=1, rng=rng)
    >>> r = gradient_capacity(m, xs, ys, tolerance=0.1, prompt_lengths=[1, 2], rng=rng)
    >>> r.smallest_length
    1
    """
    model = check_model(model)
    xs = _check_inputs(model, "xs", xs)
    if xs.ndim != 3:
        raise ValueError(f"xs: expected a batch (N, L, d), got shape {xs.shape}")
    ys = as_array("ys", ys, ndim=3)
    if ys.shape != xs.shape:
        raise ValueError(f"ys: expected the shape of xs {xs.shape}, got {ys.shape}")
    tolerance = positive_float("tolerance", tolerance)
    lengths = _check_lengths(prompt_lengths)
    rng = as_rng(rng)
    restarts = positive_int("restarts", restarts, maximum=MAX_RESTARTS)
    ratio = tolerance / math.sqrt(ys.size)  # the loss target tolerance² / (N L d), saturated
    target = ratio * ratio if ratio < 1e150 else sys.float_info.max
    trials = []
    for lp in lengths:
        losses, errors, steps, radii, reasons = [], [], [], [], []
        for _ in range(restarts):
            start = init_prompt_normal(model, lp, rng=rng)  # (Lp, D)
            run = train_prompt(
                model,
                start,
                xs,
                ys,
                lr=lr,
                max_steps=max_steps,
                target_loss=target,
                patience=patience,
                min_improvement=min_improvement,
            )
            error = float(np.abs(prompt_forward(model, run.prompt, xs) - ys).max())
            reasons.append(run.reason)
            losses.append(run.loss)
            errors.append(error)
            steps.append(run.steps)
            radii.append(float(np.abs(run.prompt).max()))
            if error <= tolerance:
                break
        memorized = min(errors) <= tolerance
        trials.append(
            LengthTrial(
                lp,
                tuple(losses),
                tuple(errors),
                tuple(steps),
                tuple(radii),
                memorized,
                tuple(reasons),
            )
        )
        if memorized and stop_at_first:
            break
    return CapacityResult(
        n_pairs=xs.shape[0],
        d=model.d,
        input_length=xs.shape[1],
        width=model.width,
        tolerance=tolerance,
        trials=tuple(trials),
    )


@dataclass(frozen=True)
class CapacitySpec:
    """One point of a capacity sweep; everything random comes from ``seed`` (or, with
    ``problem_seed``, the model and pairs from ``problem_seed`` and the prompts from both, so
    several trial seeds share one problem)."""

    n_pairs: int
    d: int
    input_length: int
    width: int
    prompt_lengths: tuple[int, ...]
    tolerance: float = 0.1
    restarts: int = 2
    max_steps: int = 2000
    lr: float = 0.1
    seed: int = 0
    patience: int = 500
    min_improvement: float = 1e-4
    problem_seed: int | None = None


def build_capacity_problem(
    spec: CapacitySpec,
) -> tuple[Transformer, np.ndarray, np.ndarray, np.random.Generator]:
    """The random frozen model, the ``N`` random pairs and the generator (for the prompts)
    of ``spec``, all from ``spec.seed``.

    >>> from reference.model.capacity import CapacitySpec
    >>> from reference.model.capacity import build_capacity_problem
    >>> spec = CapacitySpec(n_pairs=3, d=1, input_length=2, width=2, prompt_lengths=(1,))
    >>> model, xs, ys, rng = build_capacity_problem(spec)
    >>> model.width, xs.shape
    (2, (3, 2, 1))
    """
    if not isinstance(spec, CapacitySpec):
        raise TypeError(f"spec: expected a CapacitySpec, got {type(spec).__name__}")
    problem = spec.seed if spec.problem_seed is None else spec.problem_seed
    rng = np.random.default_rng(problem)
    model = Transformer.random(spec.d, rng=rng, width=spec.width)
    xs, ys = random_pairs(spec.n_pairs, d=spec.d, length=spec.input_length, rng=rng)
    if spec.problem_seed is not None:  # same model and pairs, prompts from the trial seed
        rng = np.random.default_rng([spec.problem_seed, spec.seed])
    return model, xs, ys, rng


def run_capacity_spec(spec: CapacitySpec) -> CapacityResult:
    """Build the problem of ``spec`` (:func:`build_capacity_problem`) and run the scan.

    >>> from reference.model.capacity import CapacitySpec
    >>> from reference.model.capacity import run_capacity_spec
    >>> spec = CapacitySpec(n_pairs=1, d=1, input_length=1, width=2, prompt_lengths=(1,))
    >>> run_capacity_spec(spec).n_pairs
    1
    """
    model, xs, ys, rng = build_capacity_problem(spec)
    return gradient_capacity(
        model,
        xs,
        ys,
        tolerance=spec.tolerance,
        prompt_lengths=spec.prompt_lengths,
        rng=rng,
        restarts=spec.restarts,
        max_steps=spec.max_steps,
        lr=spec.lr,
        patience=spec.patience,
        min_improvement=spec.min_improvement,
    )


# --------------------------------------------------------------------------- Wang-style dataset
@dataclass(frozen=True)
class WangDataset:
    """``xs[1] = xs[0][permutation]`` with targets that disagree on matching rows.

    Row ``j`` of sequence 1 is row ``permutation[j]`` of sequence 0, so (no positional encoding)
    both get the same output for every prompt; their targets differ, hence ``loss_floor > 0``.
    """

    xs: np.ndarray  # (2, L, d)
    ys: np.ndarray  # (2, L, d)
    permutation: np.ndarray  # (L,)
    loss_floor: float


def wang_loss_floor(ys: np.ndarray, permutation: np.ndarray) -> float:
    """Smallest mean squared error when row ``j`` of sequence 1 must share its output with row
    ``permutation[j]`` of sequence 0: ``Σ (a - b)² / 2`` over matched targets, over ``2 L d``.

    The per-pair floor ``(a - b)² / 2`` is derived in sympy (``verify.claims.capacity.bounds.
    wang_pair_floor``); ``tests/capacity/test_capacity.py`` ties this numpy evaluation to it.
    ``permutation`` must be an integer array (booleans and floats are refused).

    >>> import numpy as np
    >>> from reference.model.capacity import wang_loss_floor
    >>> float(wang_loss_floor(np.array([[[0.0]], [[1.0]]]), np.array([0])))
    0.25
    """
    ys = as_array("ys", ys, ndim=3)
    if ys.shape[0] != 2:
        raise ValueError(f"ys: expected two sequences (2, L, d), got shape {ys.shape}")
    if ys.size == 0:
        raise ValueError(f"ys: expected at least one token of width d >= 1, got shape {ys.shape}")
    perm = _check_permutation(permutation, ys.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        gap = ys[0][perm] - ys[1]  # (L, d) targets of rows that share one output
        floor = float((gap * gap).sum() / 2 / ys.size)
    if not math.isfinite(floor):
        top = float(np.max(np.abs(ys)))
        raise NumericalOverflow(
            f"ys: the loss floor overflows float64 (largest |entry| {top:.3g}); rescale the targets"
        )
    return floor


def _check_permutation(permutation: object, n: int) -> np.ndarray:
    try:
        perm = np.asarray(permutation)
    except ValueError:  # ragged nested lists
        raise ValueError(
            f"permutation: expected a permutation of range({n}), got a ragged sequence"
        ) from None
    if perm.dtype == np.bool_ or not np.issubdtype(perm.dtype, np.integer):
        raise TypeError(
            f"permutation: expected an integer array (a permutation of range({n})), got dtype "
            f"{perm.dtype}"
        )
    if perm.shape != (n,) or sorted(perm.tolist()) != list(range(n)):
        raise ValueError(f"permutation: expected a permutation of range({n}), got {perm.tolist()}")
    return perm


def wang_dataset(model: Transformer, *, length: int, rng: np.random.Generator) -> WangDataset:
    """A two-sequence dataset the model cannot memorize with any prompt (see module docstring).

    Sequence 1 is sequence 0 cyclically shifted by one row; targets of sequence 1 are
    ``1 - (targets of the matching rows of sequence 0)``. Needs ``length >= 2`` and a model
    without positional encoding (positions would break the permutation symmetry).

    >>> import numpy as np
    >>> from reference.model.capacity import wang_dataset
    >>> from reference.model.transformer import Transformer
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> data = wang_dataset(m, length=3, rng=rng)
    >>> data.xs.shape, data.loss_floor > 0
    ((2, 3, 2), True)
    """
    model = check_model(model)
    if model.positional is not None:
        raise ValueError(
            "model: expected a model without positional encoding (positional=None); the "
            "permutation argument does not apply to position-dependent queries"
        )
    length = positive_int("length", length, minimum=2, maximum=MAX_ELEMENTS)
    check_elements("length", length * model.d, "entries per sequence")
    rng = as_rng(rng)
    perm = np.roll(np.arange(length), -1)  # (L,) row j of sequence 1 = row j+1 of sequence 0
    x0 = rng.random((length, model.d))  # (L, d)
    y0 = rng.random((length, model.d))  # (L, d)
    xs = np.stack([x0, x0[perm]])  # (2, L, d)
    ys = np.stack([y0, 1.0 - y0[perm]])  # (2, L, d)
    return WangDataset(xs, ys, perm, wang_loss_floor(ys, perm))


def permutation_defect(
    model: Transformer, prompt: np.ndarray, x: np.ndarray, permutation: np.ndarray
) -> float:
    """``max |τ([P; X π]) - τ([P; X]) π|``: zero (to rounding) for models without positions.

    >>> import numpy as np
    >>> from reference.model.capacity import permutation_defect
    >>> from reference.model.transformer import Transformer
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> permutation_defect(m, rng.random((2, 3)), rng.random((4, 2)), np.arange(4)[::-1]) < 1e-12
    True
    """
    model = check_model(model)
    x = _check_inputs(model, "x", x)
    if x.ndim != 2:
        raise ValueError(f"x: expected one sequence (L, d), got shape {x.shape}")
    perm = _check_permutation(permutation, x.shape[0])
    _check_prompt(model, prompt)
    out = prompt_forward(model, prompt, x)  # (L, d)
    out_perm = prompt_forward(model, prompt, x[perm])  # (L, d)
    return float(np.abs(out_perm - out[perm]).max())


def trained_losses(
    model: Transformer,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    prompt_lengths: list[int] | tuple[int, ...],
    rng: np.random.Generator,
    restarts: int = 2,
    max_steps: int = 2000,
    lr: float = 0.1,
    patience: int = 200,
    min_improvement: float = 1e-4,
) -> list[float]:
    """Best training MSE (over ``restarts``) at each prompt length: the loss-versus-``Lp`` curve.

    Each run stops on a certified plateau (relative improvement of the best loss below
    ``min_improvement`` over ``patience`` steps) or at the cap ``max_steps``.

    >>> import numpy as np
    >>> from reference.model.capacity import trained_losses
    >>> from reference.model.capacity import wang_dataset
    >>> from reference.model.transformer import Transformer
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(1, rng=rng, width=2)
    >>> data = wang_dataset(m, length=2, rng=rng)
    >>> losses = trained_losses(m, data.xs, data.ys, prompt_lengths=[1], rng=rng, max_steps=50)
    >>> losses[0] >= data.loss_floor
    True
    """
    model = check_model(model)
    xs = _check_inputs(model, "xs", xs)
    ys = as_array("ys", ys, ndim=(2, 3))
    if ys.shape != xs.shape:
        raise ValueError(f"ys: expected the shape of xs {xs.shape}, got {ys.shape}")
    lengths = _check_lengths(prompt_lengths)
    rng = as_rng(rng)
    restarts = positive_int("restarts", restarts, maximum=MAX_RESTARTS)
    best = []
    for lp in lengths:
        runs = [
            train_prompt(
                model,
                init_prompt_normal(model, lp, rng=rng),
                xs,
                ys,
                lr=lr,
                max_steps=max_steps,
                patience=patience,
                min_improvement=min_improvement,
            ).loss
            for _ in range(restarts)
        ]
        best.append(float(min(runs)))
    return best
