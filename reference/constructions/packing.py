"""Grid cells, contexts and the packed digit tables stored in the prompt (docs/universality.md).

A token's cell is ``min(⌊K x⌋, K − 1)`` per coordinate, flattened as ``Σ_r c_r K^r``; a prompt row
``pos·K^d + cell`` packs the output levels of that token for every context ``t`` (the cells of
the other tokens) as base-``Q`` digits of one exact dyadic number.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.constructions.sizes import contexts, log2_levels

#: No public API: cells and packed tables of construct_lookup, called with checked sizes.
__all__: list[str] = []


def cell_coordinates(x: np.ndarray, K: int) -> np.ndarray:
    """Grid cell per coordinate, ``min(⌊K x⌋, K − 1)``, as integers (same shape as ``x``)."""
    return np.clip(np.floor(x * K), 0, K - 1).astype(np.int64)


def in_band(x: np.ndarray, K: int, eta: float | Fraction) -> np.ndarray:
    """Mask of coordinates of ``x`` closer than ``eta`` to an interior cell boundary ``j/K``."""
    scaled = x * K  # (..., L, d)
    nearest = np.clip(np.rint(scaled), 1, K - 1)
    return np.abs(scaled - nearest) < float(eta) * K


def digit_table(cells: np.ndarray, levels: np.ndarray, d: int, L: int, K: int) -> np.ndarray:
    """The prompt's digit table ``(L K^d, T, d)``: for every sequence of cells ``cells (S, L)``
    with output levels ``levels (S, L, d)``, row ``pos·K^d + cell_pos`` holds the levels of
    position ``pos`` at the context of the other tokens (unlisted entries stay 0)."""
    kd = K**d
    digits = np.zeros((L * kd, contexts(d, L, K), d), dtype=np.int64)  # (Lp, T, d)
    for pos in range(L):
        digits[pos * kd + cells[:, pos], context_index(cells, pos, K, d)] = levels[:, pos]
    return digits


def context_index(cells: np.ndarray, pos: int, K: int, d: int) -> np.ndarray:
    """Context index ``t`` of position ``pos`` for cell sequences ``cells (S, L)``: ``(S,)``.

    ``t = Σ_{p<pos} cell_p K^{dp} + Σ_{p>pos} cell_p K^{d(p−1)}`` — the other tokens' cells.

    >>> import numpy as np
    >>> from reference.constructions.packing import context_index
    >>> context_index(np.array([[1, 2, 3]]), 1, 2, 1).tolist()
    [7]
    """
    L = cells.shape[1]
    kd = K**d
    t = np.zeros(cells.shape[0], dtype=np.int64)  # (S,)
    for p in range(L):
        if p < pos:
            t += cells[:, p] * kd**p
        elif p > pos:
            t += cells[:, p] * kd ** (p - 1)
    return t


def pack_tables(digits: np.ndarray, Q: int) -> list[list[Fraction]]:
    """Pack ``digits (rows, T, d)`` into ``rows × d`` exact dyadic numbers in ``(0, 1)``.

    ``P = Σ_t a_t Q^{−(t+1)} + Q^{−T}/2`` (one half-digit offset after the last digit).

    >>> import numpy as np
    >>> from reference.constructions.packing import pack_tables
    >>> pack_tables(np.array([[[1], [0]]]), 2)
    [[Fraction(5, 8)]]
    """
    rows, T, d = digits.shape
    q = log2_levels(Q)
    out = []
    for m in range(rows):
        row = []
        for r in range(d):
            n = 0
            for a in digits[m, :, r].tolist():
                n = (n << q) | int(a)
            row.append(Fraction(2 * n + 1, 1 << (T * q + 1)))
        out.append(row)
    return out


def grid_cells(d: int, L: int, K: int) -> np.ndarray:
    """All ``K^{dL}`` cell sequences as one ``(S, L)`` array of flattened cell indices.

    >>> from reference.constructions.packing import grid_cells
    >>> grid_cells(1, 2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    kd = K**d
    return np.indices((kd,) * L).reshape(L, -1).T.astype(np.int64)  # (S, L), position 0 slowest


def cell_centers(cells: np.ndarray, d: int, K: int) -> np.ndarray:
    """Centers ``(c_r + 1/2)/K`` of flattened cells ``(..., L)`` as tokens ``(..., L, d)``.

    >>> import numpy as np
    >>> from reference.constructions.packing import cell_centers
    >>> cell_centers(np.array([[1, 2]]), 2, 2).tolist()
    [[[0.75, 0.25], [0.25, 0.75]]]
    """
    powers = K ** np.arange(d)  # (d,)
    coords = (cells[..., None] // powers) % K  # (..., L, d)
    return (coords + 0.5) / K


def flatten_cells(coords: np.ndarray, K: int) -> np.ndarray:
    """Flattened cell index ``Σ_r c_r K^r`` of per-coordinate cells ``(..., L, d)``."""
    powers = K ** np.arange(coords.shape[-1])  # (d,)
    return (coords * powers).sum(axis=-1)
