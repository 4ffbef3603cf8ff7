"""Hidden widths from the sizes alone, and refusal of constructions too large to allocate."""

from __future__ import annotations

import math

from reference.constructions.layout import Layout
from reference.constructions.sizes import (
    BACKENDS,
    DECODERS,
    MAX_CONTEXTS,
    MAX_DENSE_ENTRIES,
    MAX_GRID_SEQUENCES,
    MAX_PROMPT_ROWS,
    check_grid,
    contexts,
    decoder_ramps,
)

#: The public API (ffn_widths is a step of check_sizes and the layout, called with checked sizes).
__all__ = ["check_sizes"]


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

    >>> from reference.constructions.limits import ffn_widths
    >>> ffn_widths(1, 1, 4, 4)
    ((3, 6, 4), (3, 6, 5, 3))
    >>> ffn_widths(1, 2, 2, 4, "wide")[1]
    (20, 37, 2, 6)
    """
    T = contexts(d, L, K)
    if decoder == "shallow":
        return (2 * L * d * (K - 1),), (2 * L * decoder_ramps(d, L, K, Q, "wide"),)
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


def _refuse(what: str, size: str, limit: int, d: int, L: int, K: int, Q: int, hint: str) -> None:
    raise ValueError(
        f"construction too large: {what} = {size} exceeds the limit {limit} "
        f"(d={d}, L={L}, K={K}, Q={Q}); {hint}"
    )


def _power(log2_value: float) -> str:
    """A size given by its base-2 logarithm, printed without computing it."""
    return f"2^{log2_value:.4g}"


def check_sizes(
    d: int,
    L: int,
    K: int,
    Q: int,
    decoder: str = "deep",
    *,
    hint: str = "use a larger eps or a smaller lipschitz",
    backend: str = "float64",
) -> None:
    """Refuse constructions too large to allocate, before allocating anything.

    Every size is first compared in base-2 logarithms (no big-integer power is formed for
    ``d``, ``L`` of any magnitude), then exactly once it is known to be small. ``hint`` ends the
    message for the grid sizes (the memorizer says what to change about the data). The dense
    weight limit applies to the dense backends only: ``backend="exact"`` allocates no dense
    weights (its spec's units are still bounded by the decoder-ramp limit).

    >>> from reference.constructions.limits import check_sizes
    >>> check_sizes(1, 2, 4, 4)
    >>> try:
    ...     check_sizes(1000, 10**6, 4, 4)
    ... except ValueError as err:
    ...     print(str(err)[:74])
    construction too large: prompt rows L·K^d = 2^2020 exceeds the limit 65536
    """
    d, L, K, Q = check_grid(d, L, K, Q)
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    if not isinstance(hint, str):
        raise TypeError(f"hint: expected a str, got {type(hint).__name__}")
    lk, slack = math.log2(K), 1e-9
    log_rows, log_t = math.log2(L) + d * lk, d * (L - 1) * lk
    if log_rows > math.log2(MAX_PROMPT_ROWS) + slack:
        _refuse("prompt rows L·K^d", _power(log_rows), MAX_PROMPT_ROWS, d, L, K, Q, hint)
    if log_t > math.log2(MAX_CONTEXTS) + slack:
        _refuse("contexts K^(d(L-1))", _power(log_t), MAX_CONTEXTS, d, L, K, Q, hint)
    if d * L * lk > math.log2(MAX_GRID_SEQUENCES) + slack:
        _refuse("grid sequences K^(dL)", _power(d * L * lk), MAX_GRID_SEQUENCES, d, L, K, Q, hint)
    rows, T = L * K**d, contexts(d, L, K)  # small now
    if rows > MAX_PROMPT_ROWS:
        _refuse("prompt rows L·K^d", str(rows), MAX_PROMPT_ROWS, d, L, K, Q, hint)
    if T > MAX_CONTEXTS:
        _refuse("contexts K^(d(L-1))", str(T), MAX_CONTEXTS, d, L, K, Q, hint)
    if K**d * T > MAX_GRID_SEQUENCES:
        _refuse("grid sequences K^(dL)", str(K**d * T), MAX_GRID_SEQUENCES, d, L, K, Q, hint)
    if decoder in ("wide", "shallow"):
        log_ramps = math.log2(d) + (T + 1) * math.log2(Q)  # d·Q^(T+1) > the decoder's ramps G
        if log_ramps > math.log2(MAX_DENSE_ENTRIES) + slack:
            _refuse(
                f"the {decoder} decoder's ramps, about d·Q^(T+1) with T = {T},",
                _power(log_ramps),
                MAX_DENSE_ENTRIES,
                d,
                L,
                K,
                Q,
                "use decoder='deep' (depth 2T + 2, width O(dQ)) or a larger eps",
            )
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "exact":
        return
    widths_in, widths_out = ffn_widths(d, L, K, Q, decoder)
    entries = 2 * Layout(d, L, K, Q, decoder).width * (sum(widths_in) + sum(widths_out))
    if entries > MAX_DENSE_ENTRIES:
        _refuse(
            f"dense FFN weights 2·D·(hidden units) of the {decoder} model",
            str(entries),
            MAX_DENSE_ENTRIES,
            d,
            L,
            K,
            Q,
            hint + ("; or use decoder='deep'" if decoder != "deep" else ""),
        )
