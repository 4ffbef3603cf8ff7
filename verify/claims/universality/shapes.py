"""Width against depth: the deep, wide and shallow lookup models side by side
(docs/universality.md, "Width against depth").

For each size ``(d, L, K, Q)`` and decoder the table gives the layers, hidden units, model width,
dense parameters, precision bits, bits per prompt row and prompt rows from the sympy expressions
(:mod:`verify.claims.universality.decoder_bounds`), and whether the built model has exactly those
numbers (``exact`` check; a model with one FFN layer too many is the planted violation it must
catch). The shallow models are also evaluated on held-out targets off the band (``bound`` check:
sup error against ``C/(2K) + 1/(2Q)``). The claim adds all of it with one call,
:func:`add_shape_tradeoff`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from reference import Construction, construct_universal
from verify.claims.base import CheckResult, ClaimContext, ClaimResult
from verify.claims.universality import bounds as ub
from verify.claims.universality import decoder_bounds as bd
from verify.claims.universality.checks import dense_parts
from verify.claims.universality.targets import make_clipped_affine, make_sawtooth

DECODER_NAMES = ("shallow", "wide", "deep")
#: The numbers compared, formula against built.
SHAPE_FIELDS = (
    "layers",
    "depth_in",
    "depth_out",
    "ffn_in_units",
    "ffn_out_units",
    "model_width",
    "parameters",
    "precision_bits",
    "bits_per_row",
    "prompt_rows",
)
#: Sizes ``(d, L, lipschitz, eps)`` per mode (smoke, default, thorough).
_DEFAULT_SIZES = [
    (1, 1, 1.0, 0.25),
    (1, 2, 1.0, 0.25),
    (2, 2, 0.5, 0.5),
    (1, 3, 0.5, 0.5),
    (1, 4, 1.0, 0.5),
    (1, 2, 0.5, 0.125),
]
TRADEOFF_SIZES = ([(1, 2, 1.0, 0.25)], _DEFAULT_SIZES, [*_DEFAULT_SIZES, (1, 2, 0.25, 0.0625)])


def built_shape(c: Construction) -> dict[str, int]:
    """The numbers of :data:`SHAPE_FIELDS` read off a built construction.

    >>> from reference.constructions.universality import construct_universal
    >>> from verify.claims.universality.shapes import built_shape
    >>> c = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.5, decoder="shallow")
    >>> built_shape(c)["layers"], built_shape(c)["prompt_rows"]
    (2, 2)
    """
    m, prompt = dense_parts(c)
    arrays = [m.embed, m.readout, m.attn.w_q, m.attn.w_k, m.attn.w_v, m.attn.w_o]
    if m.positional is not None:  # a model without a positional encoding has no such array
        arrays.append(m.positional)
    arrays += [w for layer in (*m.ffn_in, *m.ffn_out) for w in vars(layer).values()]
    return {
        "layers": len(m.ffn_in) + len(m.ffn_out),
        "depth_in": len(m.ffn_in),
        "depth_out": len(m.ffn_out),
        "ffn_in_units": sum(layer.hidden for layer in m.ffn_in),
        "ffn_out_units": sum(layer.hidden for layer in m.ffn_out),
        "model_width": m.width,
        "parameters": sum(int(a.size) for a in arrays),
        "precision_bits": c.precision_needed,
        "bits_per_row": c.bits_per_row,
        "prompt_rows": int(prompt.shape[0]),
    }


def shape_mismatches(formula: dict[str, int], built: dict[str, int]) -> list[str]:
    """``field: formula != built`` for every field of :data:`SHAPE_FIELDS` that differs.

    >>> from verify.claims.universality.shapes import shape_mismatches
    >>> shape_mismatches({"layers": 2}, {"layers": 3})
    ['layers: formula 2 != built 3']
    """
    return [
        f"{k}: formula {formula[k]} != built {built[k]}"
        for k in SHAPE_FIELDS
        if k in formula and formula[k] != built.get(k)
    ]


def _held_out_error(
    c: Construction, d: int, L: int, lipschitz: float, seed: int, *, wrong_prompt: bool = False
) -> float:
    """Worst off-band sup error / bound over two held-out targets (not used to build ``c``'s
    shape, drawn from ``seed``) at 256 random inputs. ``wrong_prompt`` (a planted violation)
    compares each model with the reflected target ``1 − f`` instead of ``f``."""
    rng = np.random.default_rng(seed)
    xs = rng.random((256, L, d))  # (B, L, d)
    xs = xs[c.off_band(xs)]
    if c.eps is None:
        raise TypeError("c: expected a construction built for an accuracy eps, got eps=None")
    worst = 0.0
    for f in (make_clipped_affine(d, L, rng, lipschitz), make_sawtooth(d, L, rng, lipschitz)):
        model = construct_universal(
            f, d=d, L=L, lipschitz=lipschitz, eps=c.eps, decoder=c.decoder, band=c.band
        )
        target = np.stack([f(x) for x in xs])  # (B, L, d)
        err = float(
            np.abs(
                model.forward(xs, on_band="ignore") - (1 - target if wrong_prompt else target)
            ).max()
        )
        worst = max(worst, err / float(ub.error_bound_fn(lipschitz, c.K, c.Q)))
    return worst


def shape_job(item: tuple[str, int, int, float, float, int]) -> dict[str, Any]:
    """One table row: formulas for ``(decoder, d, L, lipschitz, eps)``, the built numbers (or
    the refusal), and for the shallow model the held-out error ratio (top-level: picklable)."""
    decoder, d, L, lipschitz, eps, seed = item
    K, Q = int(ub.cells_per_axis_fn(eps, lipschitz)), int(ub.levels_fn(eps))
    eta = float(ub.band_eta_fn(eps, d, L, K))
    row: dict[str, Any] = {"decoder": decoder, "d": d, "L": L, "K": K, "Q": Q}
    row.update(bd.shape_formulas(decoder, d, L, K, Q, eta))
    f = make_sawtooth(d, L, np.random.default_rng(seed), lipschitz)
    start = time.perf_counter()
    try:
        c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder=decoder)
    except ValueError as err:
        reason = str(err).split(";")[0].removeprefix("construction too large: ")
        row.update(built=False, mismatches=[], refused=f"refused: {reason}", build_s=None)
        return row
    row["build_s"] = round(time.perf_counter() - start, 3)
    built = built_shape(c)
    row.update(built=True, refused="", widest_layer=max(c.ffn_in_widths + c.ffn_out_widths))
    row["mismatches"] = shape_mismatches(row, built)
    if decoder == "shallow":
        row["held_out_error_ratio"] = _held_out_error(c, d, L, lipschitz, seed + 1)
    return row


def check_shapes(rows: list[dict[str, Any]]) -> CheckResult:
    """``exact``: every built model has the layers, widths, parameters, bits and prompt rows of
    its sympy formulas, and every shallow model one FFN layer on each side.

    >>> from verify.claims.universality.shapes import check_shapes
    >>> check_shapes([{"built": True, "mismatches": ["layers: formula 2 != built 3"],
    ...                "decoder": "shallow", "depth_in": 1, "depth_out": 1}]).passed
    False
    """
    built = [r for r in rows if r["built"]]
    bad = [
        f"{r['decoder']} d={r.get('d')} L={r.get('L')}: {m}" for r in built for m in r["mismatches"]
    ]
    bad += [
        f"shallow model with depths {r['depth_in']}, {r['depth_out']}"
        for r in built
        if r["decoder"] == "shallow" and (r["depth_in"], r["depth_out"]) != (1, 1)
    ]
    return CheckResult(
        "width-depth trade-off: shapes equal the formulas",
        "for the deep, wide and shallow models, layers, hidden units, model width, dense "
        "parameters, precision bits, bits per row and prompt rows of the built model equal the "
        "sympy expressions; the shallow model has one FFN layer before and one after attention",
        "",
        len(built) * len(SHAPE_FIELDS),
        not bad,
        None,
        "; ".join(bad) or None,
        {"models_built": len(built), "refused": len(rows) - len(built)},
        kind="exact",
    )


def check_shallow_error(rows: list[dict[str, Any]]) -> CheckResult:
    """``bound``: the shallow models' off-band sup error over held-out targets, against the
    bound ``C/(2K) + 1/(2Q)``."""
    ratios = [r["held_out_error_ratio"] for r in rows if "held_out_error_ratio" in r]
    worst = max(ratios) if ratios else None
    held = worst is not None and worst <= 1.0
    return CheckResult(
        "shallow model meets the bound off the band",
        "one FFN layer on each side: sup error over held-out targets and random off-band inputs "
        "<= C/(2K) + 1/(2Q)",
        r"\|\tau([P_f;X]) - f(X)\|_{\max} \le \frac{C}{2K} + \frac{1}{2Q}",
        len(ratios),
        held,
        worst,
        None if held else "shallow model over its bound (or none built)",
        kind="bound",
    )


def planted_extra_layer(row_item: tuple[str, int, int, float, float, int]) -> CheckResult:
    """``planted``: a shallow model given a second ``FFN_out`` layer (an identity layer: the
    function is unchanged, the shape is not) must fail :func:`check_shapes`."""
    decoder, d, L, lipschitz, eps, seed = row_item
    f = make_sawtooth(d, L, np.random.default_rng(seed), lipschitz)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder=decoder)
    model = dense_parts(c)[0]
    broken = replace(c, model=replace(model, ffn_out=model.ffn_out * 2))
    K, Q = c.K, c.Q
    row: dict[str, Any] = {"decoder": decoder, "d": d, "L": L, "built": True}
    row.update(bd.shape_formulas(decoder, d, L, K, Q, c.band))
    row["mismatches"] = shape_mismatches(row, built_shape(broken))
    for key in ("depth_in", "depth_out"):
        row[key] = built_shape(broken)[key]
    caught = not check_shapes([row]).passed
    return CheckResult(
        "extra FFN layer caught",
        "a shallow model with two FFN_out layers fails the shape check",
        "",
        1,
        caught,
        None,
        None if caught else "planted violation went undetected",
        {
            "caught_by": "width-depth trade-off: shapes equal the formulas",
            "mismatches": row["mismatches"],
        },
        kind="planted",
    )


def planted_wrong_prompt(item: tuple[str, int, int, float, float, int]) -> CheckResult:
    """``planted``: the shallow model with the prompt of ``f`` compared with ``1 − f`` must fail
    :func:`check_shallow_error`."""
    decoder, d, L, lipschitz, eps, seed = item
    f = make_sawtooth(d, L, np.random.default_rng(seed), lipschitz)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder=decoder)
    ratio = _held_out_error(c, d, L, lipschitz, seed + 1, wrong_prompt=True)
    caught = not check_shallow_error([{"held_out_error_ratio": ratio}]).passed
    return CheckResult(
        "prompt of another target caught",
        "the shallow model prompted for f, compared with 1 - f, fails the bound check",
        "",
        1,
        caught,
        None,
        None if caught else "planted violation went undetected",
        {"caught_by": "shallow model meets the bound off the band", "caught_with_ratio": ratio},
        kind="planted",
    )


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's trade-off table: formulas, the widest built layer, and the verdict."""
    out = []
    for r in rows:
        out.append(
            {
                "decoder": r["decoder"],
                "d, L, K, Q": f"{r['d']}, {r['L']}, {r['K']}, {r['Q']}",
                "FFN layers (in + out)": f"{r['depth_in']} + {r['depth_out']}",
                "hidden units (in + out)": f"{r['ffn_in_units']} + {r['ffn_out_units']}",
                "widest layer": r.get("widest_layer", ""),
                "model width D": r["model_width"],
                "parameters": r["parameters"],
                "precision bits": r["precision_bits"],
                "bits per row": r["bits_per_row"],
                "prompt rows": r["prompt_rows"],
                "built = formula": (
                    ("yes" if not r["mismatches"] else "NO") if r["built"] else r["refused"]
                ),
            }
        )
    return out


def add_shape_tradeoff(result: ClaimResult, ctx: ClaimContext) -> None:
    """Add the width-depth table and its checks to the universality claim (one call)."""
    ctx.progress("universality: width against depth (shallow, wide, deep)")
    sizes = ctx.pick(*TRADEOFF_SIZES)
    items = [(dec, d, L, C, eps, ctx.seed + 7) for d, L, C, eps in sizes for dec in DECODER_NAMES]
    rows = ctx.map(shape_job, items)
    result.tables["width_depth_tradeoff"] = table_rows(rows)
    result.checks.append(check_shapes(rows))
    result.checks.append(check_shallow_error(rows))
    result.checks.append(planted_extra_layer(("shallow", 1, 2, 1.0, 0.25, ctx.seed)))
    result.checks.append(planted_wrong_prompt(("shallow", 1, 2, 1.0, 0.25, ctx.seed)))
