"""A computable upper bound on the Lipschitz constant of a frozen model in its prompt.

For a :class:`reference.Transformer` ``τ``, inputs ``X ∈ [0,1]^{L×d}`` and prompts
``P ∈ [-R_P, R_P]^{Lp×D}``, :func:`prompt_lipschitz_bound` returns ``Λ`` with

    ||prompt_forward(τ, P, X) - prompt_forward(τ, P', X)||_max <= Λ ||P - P'||_max

for every such ``X, P, P'`` (max norm over all entries on both sides). ``Λ`` does not depend on
``Lp``. The bound chains, along the segment from ``P`` to ``P'`` (which stays in the box):

* ``FFN_in`` on a prompt row: per layer ``||I + W1 Δ W2||`` with ``Δ`` the ReLU slopes allowed by
  interval bounds of the pre-activations over the box (dead units drop out, stable ones are
  linear, undecided ones are bounded entrywise) — ``Λ_in``;
* attention output of an input row ``i``: ``δo_i = Σ_j s_ij δv_j + Σ_j s_ij δℓ_ij (v_j - ō_i)``,
  so ``||δo_i|| <= Λ_in (N(W_V) + scale · ||h_i W_Q W_Kᵀ||_1 · w_V) ||δP||`` with ``w_V`` the
  widest coordinate range of all value rows (``δℓ_ij = scale · h_i W_Q W_Kᵀ δh_jᵀ``);
* ``W_O``, ``FFN_out`` (as ``FFN_in``, on the interval of its inputs) and the read-out.

Here ``N(A) = max_j Σ_i |A_ij|`` is the max-norm operator norm of ``x ↦ x A`` on row vectors.
Intervals are propagated by interval arithmetic in float64; the result is multiplied by
``1 + 1e-9`` to absorb rounding. If anything overflows float64 (the constructions' weights and
intervals grow like ``2^{bits}`` per layer), the computation is repeated in ``numpy.longdouble``
(x87 extended: exponent up to 16384 where available) and then on object arrays of
``mpmath.mpf`` (unbounded exponent); :attr:`LipschitzBound.log2` is then finite while
:attr:`LipschitzBound.total` may be ``inf``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from reference._validation import NumericalOverflow, as_array, positive_float, positive_int
from reference.model.prompt_tuning import check_model
from reference.model.transformer import FFNLayer, Transformer, relu

ROUNDING_MARGIN = 1.0 + 1e-9


@dataclass(frozen=True)
class LipschitzBound:
    """``Λ = readout · ffn_out · w_o · attention · ffn_in`` with its factors and ``log2 Λ``.

    ``total`` and the factors are floats (``inf`` if beyond float64); ``log2`` is always finite.
    (``inf`` is then an honest upper bound, saturated; the exact size is ``log2``, named by
    :attr:`OVERFLOW_CARRIED_BY` for tools such as the fuzz test.)
    """

    OVERFLOW_CARRIED_BY: ClassVar[str] = "log2"  # the finite field holding the exact size

    total: float
    log2: float
    ffn_in: float
    attention: float
    w_o: float
    ffn_out: float
    readout: float


def operator_norm_max(a: np.ndarray) -> float:
    """``N(A) = max_j Σ_i |A_ij|``: the max-norm operator norm of ``x ↦ x A`` on row vectors.

    >>> import numpy as np
    >>> from reference.model.lipschitz import operator_norm_max
    >>> operator_norm_max(np.array([[1.0, -2.0], [3.0, 0.5]]))
    4.0
    """
    a = as_array("a", a, ndim=(1, 2), allow_object=True)  # named errors, finite entries
    with np.errstate(over="ignore"):
        norm = float(_norm(a.astype(np.float64)))
    if not np.isfinite(norm):
        top = float(np.max(np.abs(a.astype(np.float64))))
        raise NumericalOverflow(
            f"a: the column abs-sums overflow float64 (largest |entry| {top:.3g})"
        )
    return norm


def _norm(a: np.ndarray) -> Any:
    if a.size == 0:
        return 0.0
    return np.abs(a).sum(axis=0).max()  # float64 or mpmath.mpf


def _interval_matmul(
    lo: np.ndarray, hi: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interval image of ``x ↦ x w`` for ``x`` in the box ``[lo, hi]``."""
    centre, radius = (lo + hi) / 2, (hi - lo) / 2  # (..., n)
    mid, spread = centre @ w, radius @ np.abs(w)  # (..., m)
    return mid - spread, mid + spread


def _layer_interval(
    layer: FFNLayer, lo: np.ndarray, hi: np.ndarray, convert: Callable[[np.ndarray], np.ndarray]
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Lipschitz bound of a residual ReLU layer on the box ``[lo, hi]`` and its output box."""
    w1, b1, w2, b2 = (convert(a) for a in (layer.w1, layer.b1, layer.w2, layer.b2))
    pre_lo, pre_hi = _interval_matmul(lo, hi, w1)  # (rows, H)
    pre_lo, pre_hi = pre_lo + b1, pre_hi + b1
    always_on = np.all(pre_lo >= 0, axis=0)  # (H,) linear on the whole box
    undecided = np.any(pre_hi > 0, axis=0) & ~always_on  # (H,) slope anywhere in [0, 1]
    linear = convert(np.eye(w1.shape[0])) + (w1[:, always_on] @ w2[always_on])  # (D, D)
    slack = np.abs(w1[:, undecided]) @ np.abs(w2[undecided])  # (D, D)
    lipschitz = (np.abs(linear) + slack).sum(axis=0).max()
    out_lo, out_hi = _interval_matmul(relu(pre_lo), relu(pre_hi), w2)  # (rows, D)
    return lipschitz, lo + out_lo + b2, hi + out_hi + b2


def _stack_interval(
    layers: tuple[FFNLayer, ...],
    lo: np.ndarray,
    hi: np.ndarray,
    convert: Callable[[np.ndarray], np.ndarray],
) -> tuple[Any, np.ndarray, np.ndarray]:
    lipschitz: Any = 1.0
    for layer in layers:
        factor, lo, hi = _layer_interval(layer, lo, hi, convert)
        lipschitz = lipschitz * factor
    return lipschitz, lo, hi


def _to_float64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _to_longdouble(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.asarray(a, dtype=np.float64), dtype=np.longdouble)


def _to_mpf(a: np.ndarray) -> np.ndarray:
    import mpmath

    flat = [mpmath.mpf(v) for v in np.asarray(a).ravel().tolist()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(np.shape(a))


def prompt_lipschitz_bound(
    model: Transformer, *, prompt_radius: float, input_length: int
) -> LipschitzBound:
    """Upper bound ``Λ`` on the max-norm Lipschitz constant of the model output in the prompt.

    Valid for inputs in ``[0,1]^{input_length × d}``, prompts with entries in
    ``[-prompt_radius, prompt_radius]`` and any number of prompt rows.

    >>> import numpy as np
    >>> from reference.model.lipschitz import prompt_lipschitz_bound
    >>> from reference.model.transformer import Transformer
    >>> m = Transformer.random(2, rng=np.random.default_rng(0), width=3)
    >>> b = prompt_lipschitz_bound(m, prompt_radius=1.0, input_length=4)
    >>> b.total >= b.ffn_in * b.attention * b.w_o * b.ffn_out * b.readout > 0
    True
    """
    model = check_model(model)
    radius = positive_float("prompt_radius", prompt_radius)
    length = positive_int("input_length", input_length)
    if model.max_length is not None and length > model.max_length:
        raise ValueError(
            f"input_length: expected at most the positional encoding's {model.max_length} rows, "
            f"got {length}"
        )
    for convert in (_to_float64, _to_longdouble):  # overflow moves on to a wider type
        with np.errstate(over="ignore", invalid="ignore"):
            factors = _factors(model, radius, length, convert)
            total = np.prod(np.array(factors, dtype=convert(np.zeros(0)).dtype)) * ROUNDING_MARGIN
            if np.isfinite(total) and total > 0 and all(np.isfinite(f) for f in factors):
                return LipschitzBound(
                    float(total), float(np.log2(total)), *(float(f) for f in factors)
                )
    import mpmath

    with mpmath.workprec(64):
        wide = _factors(model, mpmath.mpf(radius), length, _to_mpf)
        product = mpmath.fprod(wide) * mpmath.mpf(ROUNDING_MARGIN)
        log2 = float(mpmath.log(product, 2))

        def as_float(value: Any) -> float:
            return float(value) if abs(value) < mpmath.mpf(np.finfo(np.float64).max) else np.inf

        return LipschitzBound(as_float(product), log2, *map(as_float, wide))


def _factors(
    model: Transformer, radius: Any, length: int, convert: Callable[[np.ndarray], np.ndarray]
) -> tuple[Any, Any, Any, Any, Any]:
    """``(ffn_in, attention, w_o, ffn_out, readout)`` factors, in the array type of ``convert``."""
    width = model.width
    attn = model.attn
    w_q, w_k, w_v, w_o = (convert(a) for a in (attn.w_q, attn.w_k, attn.w_v, attn.w_o))

    # ---- interval boxes of the rows entering attention
    p_hi = convert(np.ones((1, width))) * radius  # (1, D)
    p_lo = -p_hi
    x_lo, x_hi = _interval_matmul(
        convert(np.zeros((1, model.d))), convert(np.ones((1, model.d))), convert(model.embed)
    )
    x_lo, x_hi = np.repeat(x_lo, length, axis=0), np.repeat(x_hi, length, axis=0)  # (L, D)
    if model.positional is not None:
        pos = convert(model.positional)[:length]  # (L, D)
        x_lo, x_hi = x_lo + pos, x_hi + pos
    lip_in, hp_lo, hp_hi = _stack_interval(model.ffn_in, p_lo, p_hi, convert)  # prompt rows
    _, hx_lo, hx_hi = _stack_interval(model.ffn_in, x_lo, x_hi, convert)  # input rows (L, D)

    # ---- attention: queries of input rows, values of all rows
    # logit of query row i on prompt row m: scale · h_i (W_Q W_Kᵀ) h_mᵀ
    qk_lo, qk_hi = _interval_matmul(hx_lo, hx_hi, w_q @ w_k.T)  # (L, D)
    qk_l1 = np.maximum(np.abs(qk_lo), np.abs(qk_hi)).sum(axis=1).max()
    v_lo, v_hi = _interval_matmul(
        np.concatenate([hp_lo, hx_lo]), np.concatenate([hp_hi, hx_hi]), w_v
    )  # (1 + L, dv)
    hull_lo, hull_hi = v_lo.min(axis=0), v_hi.max(axis=0)  # (dv,) convex hull of all values
    value_range = (hull_hi - hull_lo).max() if hull_lo.size else 0.0
    lip_attn = _norm(w_v) + attn.scale * qk_l1 * value_range

    # ---- FFN_out on the box of h_i + o_i W_O
    o_lo, o_hi = _interval_matmul(
        np.broadcast_to(hull_lo, (length, hull_lo.size)),
        np.broadcast_to(hull_hi, (length, hull_hi.size)),
        w_o,
    )  # (L, D)
    lip_out, _, _ = _stack_interval(model.ffn_out, hx_lo + o_lo, hx_hi + o_hi, convert)
    return lip_in, lip_attn, _norm(w_o), lip_out, _norm(convert(model.readout))
