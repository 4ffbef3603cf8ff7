"""The exact backend's entry points: on a built construction and on the whole input grid.

:func:`exact_model` turns a built :class:`~reference.constructions.construction.Construction`
into its :class:`~reference.constructions.exact.model.ExactModel`, :func:`exact_forward`
evaluates either exactly (:func:`reference.constructions.exact.evaluate.evaluate_exact`: each
sequence a proof), and :func:`verify_grid` checks every grid sequence (cell centres) against
the digit table the model should realise (:class:`GridVerification` counts the outcomes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reference.constructions.construction import Construction
from reference.constructions.exact.evaluate import ExactOutput, evaluate_exact
from reference.constructions.exact.model import ExactModel
from reference.constructions.exact.rationals import to_fraction
from reference.constructions.packing import cell_centers, context_index
from reference.constructions.spec import lookup_spec


def exact_model(c: Construction) -> ExactModel:
    """The exact model of a built construction: its spec rebuilt from ``(d, L, K, Q, band,
    β, decoder)`` and its prompt converted exactly (a rounded float64 prompt stays rounded).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.layout import Layout
    >>> from reference.constructions.exact.backend import exact_model
    >>> from reference.constructions.lookup import construct_lookup
    >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> exact_model(c).prompt[1][Layout(1, 1, 2, 2).at("pv", 0)]
    Fraction(3, 4)
    """
    if c.exact is not None:  # built with backend="exact"
        return c.exact
    spec = lookup_spec(c.d, c.L, c.K, c.Q, Fraction(c.band), c.beta, c.decoder)
    prompt = tuple(tuple(to_fraction(v) for v in row) for row in np.asarray(c.prompt))
    return ExactModel(spec, prompt, c.d, c.L, c.K, c.Q, c.decoder)


def exact_forward(
    model: ExactModel | Construction,
    x: np.ndarray,
    *,
    relative_error: Fraction = Fraction(0),
    batch: int = 1024,
) -> ExactOutput:
    """Evaluate ``τ([P; X])`` exactly for sequences ``x (B, L, d)`` (or one ``(L, d)``) on an
    exact model or a built construction (converted by :func:`exact_model`).

    ``relative_error`` adds ``|c_j| · relative_error`` to every attention output's radius (a
    worst-case rounding of that size, certified). ``batch``: query rows per vectorised pass.

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact.backend import exact_forward
    >>> from reference.constructions.exact.model import exact_lookup
    >>> m = exact_lookup(np.array([[[0], [1]], [[1], [0]], [[1], [1]], [[0], [0]]]),
    ...                  d=1, L=2, K=2, Q=2, eta=Fraction(1, 16))
    >>> out = exact_forward(m, np.array([[[0.25], [0.75]]]))
    >>> out.digits.ravel().tolist(), out.values.ravel().tolist(), out.undecided.tolist()
    ([1, 0], [Fraction(3, 4), Fraction(1, 4)], [False])
    """
    if isinstance(model, Construction):
        model = exact_model(model)
    if not isinstance(model, ExactModel):
        raise TypeError(f"model: expected an ExactModel or Construction, got {type(model)}")
    return evaluate_exact(model, x, relative_error=relative_error, batch=batch)


# ----------------------------------------------------------------------------- grid verification
@dataclass(frozen=True)
class GridVerification:
    """Counts over grid sequences: ``verified`` (every digit decided and equal to the table),
    ``wrong`` (a digit decided and different), ``undecided`` (the enclosure did not decide)."""

    sequences: int
    verified: int
    wrong: int
    undecided: int
    max_radius: Fraction
    seconds: float
    wrong_ids: tuple[int, ...] = ()


def grid_ids_cells(ids: np.ndarray, d: int, L: int, K: int) -> np.ndarray:
    """Cell sequences ``(S, L)`` of grid sequence ids (position 0 slowest, as ``grid_cells``).

    >>> import numpy as np
    >>> from reference.constructions.exact.backend import grid_ids_cells
    >>> grid_ids_cells(np.arange(4), 1, 2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    kd = K**d
    return (ids[:, None] // kd ** np.arange(L - 1, -1, -1)) % kd  # (S, L)


def verify_grid(
    model: ExactModel,
    digits: np.ndarray,
    ids: np.ndarray | None = None,
    *,
    relative_error: Fraction = Fraction(0),
    batch: int = 1024,
) -> GridVerification:
    """Evaluate grid sequences (cell centres) exactly and compare every decoded digit with the
    table ``digits (L K^d, T, d)`` the model should realise. ``ids``: which of the ``K^{dL}``
    sequences (default: all).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact.model import exact_lookup
    >>> from reference.constructions.exact.backend import verify_grid
    >>> table = np.random.default_rng(0).integers(0, 4, size=(4, 2, 1))
    >>> m = exact_lookup(table, d=1, L=2, K=2, Q=4, eta=Fraction(1, 16))
    >>> v = verify_grid(m, table)
    >>> (v.sequences, v.verified, v.wrong, v.undecided)
    (4, 4, 0, 0)
    """
    d, L, K = model.d, model.L, model.K
    if ids is None:
        ids = np.arange(K ** (d * L))
    ids = np.asarray(ids, dtype=np.int64)
    cells = grid_ids_cells(ids, d, L, K)  # (S, L)
    xs = cell_centers(cells, d, K)  # (S, L, d)
    start = time.perf_counter()
    out = exact_forward(model, xs, relative_error=relative_error, batch=batch)
    seconds = time.perf_counter() - start
    expected = np.stack(
        [digits[p * K**d + cells[:, p], context_index(cells, p, K, d)] for p in range(L)], axis=1
    )  # (S, L, d)
    decided = (out.digits >= 0).all(axis=(1, 2)) & ~out.undecided
    correct = (out.digits == expected).all(axis=(1, 2))
    wrong = decided & ~correct
    return GridVerification(
        sequences=int(ids.size),
        verified=int((decided & correct).sum()),
        wrong=int(wrong.sum()),
        undecided=int((~decided).sum()),
        max_radius=max(out.radius.ravel(), default=Fraction(0)),
        seconds=seconds,
        wrong_ids=tuple(int(i) for i in ids[wrong]),
    )
