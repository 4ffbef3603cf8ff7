"""Hidden widths from the sizes alone, and refusal of constructions too large to allocate."""

from __future__ import annotations

from reference.construction_layout import Layout
from reference.construction_sizes import (
    MAX_CONTEXTS,
    MAX_DENSE_ENTRIES,
    MAX_GRID_SEQUENCES,
    MAX_PROMPT_ROWS,
    contexts,
    decoder_ramps,
)


def ffn_widths(
    d: int, L: int, K: int, Q: int, decoder: str = "deep"
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Hidden widths of the ``FFN_in`` and ``FFN_out`` layers, from the sizes alone.

    ``FFN_in``: ramps ``d(K−1)``, clamps ``2d(K−1)``, features ``L K^d − 1 + L``. ``FFN_out``
    (deep decoder, ``T = K^{d(L−1)}``): ``A_k`` has ``d(Q−1)`` ramps (``k < T``), ``d(Q+1)``
    commit units (``k >= 1``), ``3d`` select units (``k >= 2``), ``2(L−1)`` context units
    (``k = 0``) and ``2(T−1)`` snap clamps (``k = 1``); ``B_k`` has ``2d(Q−1)`` clamps plus
    ``T−1`` snap units for ``k <= 1``; the final layer ``3d``. Wide decoder (``G`` ramps, see
    :func:`decoder_ramps`): ``G + 2(L−1)``, ``2G + T − 1``, ``2(T−1)`` (if ``T > 1``), ``3dT``.

    >>> ffn_widths(1, 1, 4, 4)
    ((3, 6, 4), (3, 6, 5, 3))
    >>> ffn_widths(1, 2, 2, 4, "wide")[1]
    (20, 37, 2, 6)
    """
    T = contexts(d, L, K)
    widths_in = (d * (K - 1), 2 * d * (K - 1), L * K**d - 1 + L)
    if decoder == "wide":
        g = decoder_ramps(d, L, K, Q, "wide")
        wide = (g + 2 * (L - 1), 2 * g + T - 1, *((2 * (T - 1),) if T > 1 else ()), 3 * d * T)
        return widths_in, wide
    widths_out: list[int] = []
    for k in range(T + 1):
        a = d * ((Q - 1) * (k < T) + (Q + 1) * (k >= 1) + 3 * (k >= 2))
        a += 2 * (L - 1) * (k == 0) + 2 * (T - 1) * (k == 1)
        widths_out.append(a)
        if k < T:
            widths_out.append(2 * d * (Q - 1) + (T - 1) * (k <= 1))
    widths_out.append(3 * d)
    return widths_in, tuple(widths_out)


def check_sizes(d: int, L: int, K: int, Q: int, decoder: str = "deep") -> None:
    """Refuse constructions too large to allocate, before allocating anything.

    >>> check_sizes(1, 2, 4, 4)
    """
    rows, T = L * K**d, contexts(d, L, K)
    if rows > MAX_PROMPT_ROWS:
        raise ValueError(
            f"construction too large: L·K^d = {rows} prompt rows exceeds {MAX_PROMPT_ROWS} "
            f"(d={d}, L={L}, K={K}); use a larger eps or a smaller lipschitz"
        )
    if T > MAX_CONTEXTS:
        raise ValueError(
            f"construction too large: K^(d(L-1)) = {T} contexts (decoder depth) exceeds "
            f"{MAX_CONTEXTS} (d={d}, L={L}, K={K})"
        )
    if K**d * T > MAX_GRID_SEQUENCES:
        raise ValueError(
            f"construction too large: K^(dL) = {K**d * T} grid sequences exceeds "
            f"{MAX_GRID_SEQUENCES} (d={d}, L={L}, K={K})"
        )
    if decoder == "wide" and d * Q ** (T + 1) > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"construction too large: the wide decoder needs about d·Q^(T+1) = "
            f"{d * Q ** (T + 1)} ramps (d={d}, Q={Q}, T={T}); use decoder='deep'"
        )
    widths_in, widths_out = ffn_widths(d, L, K, Q, decoder)
    entries = 2 * Layout(d, L, K, Q, decoder).width * (sum(widths_in) + sum(widths_out))
    if entries > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"construction too large: {entries} dense FFN weights exceed {MAX_DENSE_ENTRIES} "
            f"(d={d}, L={L}, K={K}, Q={Q}); use a larger eps"
        )
