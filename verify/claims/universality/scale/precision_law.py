"""The precision law measured: the fewest significand bits at which every grid sequence decodes.

:func:`bits_needed_job` finds by bisection the smallest precision ``p`` at which every grid
sequence of a random table (:func:`~verify.claims.universality.scale.grids.random_digits`) is
proved to decode, in two models of a ``p``-bit evaluation: ``"prompt"`` (the packed numbers
rounded to ``p`` significant bits, :func:`round_significand`, exact arithmetic elsewhere) and
``"attention"`` (a worst-case relative error ``3·2^{−p}`` on the attention output, the model
behind ``precision_needed``). :func:`check_precision_law` puts the measured bits between the
capacity lower bound and the sympy prediction; :func:`precision_fits` and
:func:`precision_law_figure` show them against ``T·log2 Q``.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from reference.constructions.exact.backend import verify_grid
from reference.constructions.exact.model import ExactModel, exact_lookup
from reference.constructions.packing import pack_tables
from verify.claims.base import CheckResult
from verify.claims.capacity import bounds as cb
from verify.claims.figures import pyplot, save_figure
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import fit_log_slope
from verify.claims.universality.scale.grids import band_eta, random_digits, table_bits

#: Relative error of the attention output in a ``p``-bit evaluation (three roundings), the
#: model behind ``precision_needed`` (docs/universality.md, "Precision").
ROUNDINGS = 3
#: Grid sequences of the cheap bisection sample (the threshold is then proved on every one).
SAMPLE = 8
MODELS = ("prompt", "attention")


# --------------------------------------------------------------------------- the precision law
def round_significand(value: Fraction, bits: int) -> Fraction:
    """``value > 0`` rounded to ``bits`` significant bits (to nearest, ties to even).

    >>> from fractions import Fraction
    >>> from verify.claims.universality.scale.precision_law import round_significand
    >>> round_significand(Fraction(11, 16), 2), round_significand(Fraction(5, 8), 2)
    (Fraction(3, 4), Fraction(1, 2))
    """
    e = value.numerator.bit_length() - value.denominator.bit_length()
    if Fraction(2) ** e > value:
        e -= 1  # now 2^e <= value < 2^{e+1}
    unit = Fraction(2) ** (e + 1 - bits)
    return round(value / unit) * unit  # round() on a Fraction: ties to even


def _model_at(
    d: int, L: int, K: int, Q: int, digits: np.ndarray, prompt_bits: int | None
) -> ExactModel:
    key = (d, L, K, Q, digits.tobytes())
    if _BASE.get("key") != key:  # one exact model per table, rounded prompts swapped in
        _BASE.update(
            key=key, model=exact_lookup(digits, d=d, L=L, K=K, Q=Q, eta=band_eta(d, L, K, Q))
        )
    base = _BASE["model"]
    if prompt_bits is None:
        return base
    return base.with_packed(
        [[round_significand(v, prompt_bits) for v in row] for row in pack_tables(digits, Q)]
    )


_BASE: dict = {}  # the last exact model built by _model_at (per process)


def decodes_at(
    d: int, L: int, K: int, Q: int, digits: np.ndarray, bits: int, model: str, ids: np.ndarray
) -> bool:
    """Whether every sequence ``ids`` is proved to decode in the ``model`` at ``bits`` bits."""
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    rel = Fraction(ROUNDINGS, 2**bits) if model == "attention" else Fraction(0)
    m = _model_at(d, L, K, Q, digits, bits if model == "prompt" else None)
    v = verify_grid(m, digits, ids, relative_error=rel)
    return v.verified == v.sequences


def bits_needed_job(item: tuple) -> dict:
    """``(d, L, K, Q, seed, model)``: smallest ``p`` at which every grid sequence decodes.

    Bisection on a sample of :data:`SAMPLE` sequences (a lower bound: some sample sequence fails
    at ``p − 1``, recorded as ``fails_below``), then every grid sequence proved at ``p``
    (raising ``p`` until it holds).
    """
    d, L, K, Q, seed, model = item
    digits = random_digits(d, L, K, Q, seed)
    total = K ** (d * L)
    sample = np.random.default_rng(seed).choice(total, size=min(SAMPLE, total), replace=False)
    everything = np.arange(total)
    t0 = time.perf_counter()
    failed: set[int] = set()  # precisions at which some tested sequence did not decode
    lo, hi = 1, table_bits(d, L, K, Q) + 64  # decodes at hi, tested below
    while lo < hi:
        mid = (lo + hi) // 2
        if decodes_at(d, L, K, Q, digits, mid, model, sample):
            hi = mid
        else:
            failed.add(mid)
            lo = mid + 1
    while not decodes_at(d, L, K, Q, digits, lo, model, everything):
        failed.add(lo)
        lo += 1
    return {
        "d": d,
        "L": L,
        "K": K,
        "Q": Q,
        "model": model,
        "table_bits": table_bits(d, L, K, Q),
        "bits_needed": lo,
        "fails_below": lo - 1 in failed,
        "predicted": int(ub.precision_needed_fn(d, L, K, Q, float(band_eta(d, L, K, Q)))),
        "lower_bound": float(cb.precision_bits_lower_fn(d, K, L, Q, d + L)),
        "sequences": total,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def check_precision_law(rows: list[dict], predicted_key: str = "predicted") -> CheckResult:
    """Bound check: ``lower bound <= bits needed <= predicted`` at every point (worst ratio
    ``max(needed / predicted, lower / needed)``), and ``p − 1`` fails (the threshold is real)."""
    ratios = [
        max(r["bits_needed"] / r[predicted_key], r["lower_bound"] / r["bits_needed"]) for r in rows
    ]
    bad = [r for r, q in zip(rows, ratios, strict=True) if q > 1 or not r["fails_below"]]
    text = "; ".join(
        f"{r['model']} T log2 Q={r['table_bits']}: needed {r['bits_needed']}, predicted "
        f"{r[predicted_key]}, lower {r['lower_bound']:.4g}, fails below: {r['fails_below']}"
        for r in bad
    )
    return CheckResult(
        "precision law: bits needed between the lower bound and the prediction",
        "smallest p at which every grid sequence is proved to decode (bisection; p - 1 fails) "
        "lies between the capacity lower bound d T log2 Q/(d_v + 1) and precision_needed",
        r"\frac{d\,T\log_2 Q}{d_v+1} \le p_{\mathrm{needed}} \le T\log_2 Q + "
        + str(int(ub.GUARD_BITS)),
        len(rows),
        not bad,
        max(ratios) if ratios else None,
        text or None,
        kind="bound",
    )


def precision_fits(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per model and for the sympy prediction against ``x = T log2 Q``: the fitted log2-log2
    slope, and the least-squares line ``p ≈ a·x + b`` (``a``: bits per table bit)."""
    series = {
        m: [(r["table_bits"], r["bits_needed"]) for r in rows if r["model"] == m] for m in MODELS
    }
    series["predicted"] = sorted({(r["table_bits"], r["predicted"]) for r in rows})
    out = {}
    for name, pts in series.items():
        if len(pts) >= 2:
            x, y = [float(a) for a, _ in pts], [float(b) for _, b in pts]
            a, b = np.polyfit(x, y, 1)
            out[name] = {"log_slope": fit_log_slope(x, y), "a": float(a), "b": float(b)}
    return out


def _fit_text(fit: dict | None) -> str:
    if not fit:
        return ""
    return f"\n  log-log slope {fit['log_slope']:.3f}; p = {fit['a']:.4f} x {fit['b']:+.2f}"


def precision_law_figure(path: Path, rows: list[dict], fits: dict[str, dict]) -> None:
    """Bits needed against ``T log2 Q`` (log-log, left) and the excess ``p − T log2 Q``
    (right), with the sympy prediction and the capacity lower bound."""
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.0, 4.8))
    styles = {"prompt": ("o", "tab:blue"), "attention": ("s", "tab:green")}
    labels = {
        "prompt": "measured: packed numbers rounded to p bits",
        "attention": f"measured: attention output ±{ROUNDINGS}·2^-p (certified)",
    }
    for model in MODELS:
        mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["table_bits"])
        if mine:
            marker, color = styles[model]
            x = [r["table_bits"] for r in mine]
            y = [r["bits_needed"] for r in mine]
            label = labels[model] + _fit_text(fits.get(model))
            ax.loglog(x, y, marker, color=color, base=2, label=label, zorder=3)
            ax2.semilogx(
                x,
                [b - a for a, b in zip(x, y, strict=True)],
                marker + "-",
                color=color,
                base=2,
                label=labels[model],
                zorder=3,
            )
    pts = sorted({(r["table_bits"], r["predicted"], r["lower_bound"]) for r in rows})
    x = [b for b, _, _ in pts]
    guard = int(ub.GUARD_BITS)
    label = f"sympy precision_needed = T log2 Q + {guard}" + _fit_text(fits.get("predicted"))
    ax.loglog(x, [p for _, p, _ in pts], "--", color="tab:orange", base=2, label=label)
    ax.loglog(
        x,
        [lb for _, _, lb in pts],
        ":",
        color="k",
        base=2,
        label="capacity lower bound d T log2 Q / (d_v + 1)",
    )
    ax2.semilogx(
        x,
        [p - b for b, p, _ in pts],
        "--",
        color="tab:orange",
        base=2,
        label="sympy precision_needed",
    )
    ax.set_xlabel("bits per packed number T log2 Q")
    ax.set_ylabel("significand bits p needed (every grid sequence)")
    ax.set_title("precision law, d = 1, K = 2 (exact backend, full grids)")
    ax.legend(fontsize=7.5, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    ax2.set_xlabel("bits per packed number T log2 Q")
    ax2.set_ylabel("excess bits p - T log2 Q")
    ax2.set_title("bits beyond the table")
    ax2.set_ylim(0, guard + 3)
    ax2.legend(fontsize=7.5, loc="upper left")
    ax2.grid(True, which="both", alpha=0.3)
    save_figure(fig, path)
