"""One valid call per public entry point, for the hostile fuzz (``fuzz_hostile.py``).

Each base is a zero-argument factory returning ``(callable, kwargs)``, built afresh for every call
(generators are consumed, results compared between two fresh builds), all from fixed seeds on a
small model (``d = 2``, width 3, six positions). The hostile fuzz replaces ONE argument of a base
by a mutation; everything else stays valid, so a refusal must name that argument.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

import reference
from reference.constructions import sizes
from reference.constructions.exact import rationals
from reference.constructions.limits import check_sizes
from reference.constructions.memorization import min_token_separation
from reference.constructions.universality import grid_sizes
from reference.efficiency import features, planning, polyfit
from reference.efficiency.certificate import certified_output_bound
from reference.efficiency.fast_gradient import exact_key_value_grad
from reference.model import capacity, lipschitz, prompt_tuning, training
from reference.model.attention import resolve_scale

Factory = Callable[[], tuple[Callable[..., Any], dict[str, Any]]]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def model() -> reference.Transformer:
    """The fuzz's model: ``d = 2``, width 3, a positional encoding of six rows."""
    return reference.Transformer.random(2, rng=_rng(1), width=3, max_length=6)


def _arrays() -> dict[str, np.ndarray]:
    r = _rng(2)
    return {
        "prompt": r.standard_normal((2, 3)),  # (Lp, D)
        "x": r.random((4, 2)),  # (L, d)
        "xs": r.random((2, 4, 2)),  # (B, L, d)
        "ys": r.random((2, 4, 2)),  # (B, L, d)
        "q": 0.5 * r.standard_normal((4, 2)),  # (n, d)
        "k": 0.5 * r.standard_normal((5, 2)),  # (m, d)
        "v": r.standard_normal((5, 3)),  # (m, dv)
        "g": r.standard_normal((4, 3)),  # (n, dv)
        "z": r.standard_normal((5, 3)),  # (n, D)
    }


def _with(fn: Callable[..., Any], **fixed: Any) -> Factory:
    """``fn(**fixed)``, the arguments deep-copied per call (a generator starts afresh)."""
    return lambda: (fn, copy.deepcopy(fixed))


def _model_call(fn: Callable[..., Any], *names: str, **fixed: Any) -> Factory:
    """``fn(model=..., <names from the arrays>, **fixed)``."""

    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        a = _arrays()
        return fn, {"model": model(), **{n: a[n] for n in names}, **fixed}

    return build


def _qkv(fn: Callable[..., Any], *, grad: bool = False, **fixed: Any) -> Factory:
    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        a = _arrays()
        extra = {"grad_out": a["g"]} if grad else {}
        return fn, {"q": a["q"], "k": a["k"], "v": a["v"], **extra, **fixed}

    return build


def _method(make: Callable[[], Any], method: str, **names: str | Any) -> Factory:
    """A bound method of a freshly built object; ``names`` maps parameters to array names."""

    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        a = _arrays()
        kwargs = {k: a[v] if isinstance(v, str) and v in a else v for k, v in names.items()}
        return getattr(make(), method), kwargs

    return build


def _memorizer_data() -> dict[str, np.ndarray]:
    return {
        "xs": np.array([[[0.1], [0.6]], [[0.6], [0.1]]]),  # (N, L, d)
        "ys": np.array([[[0.9], [0.2]], [[0.3], [0.4]]]),
    }


def _construction() -> reference.Construction:
    return reference.construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)


def _cache(kind: str) -> Any:
    a = _arrays()
    if kind == "exact":
        return reference.ExactPromptCache.build(model(), a["prompt"])
    if kind == "polynomial":
        return reference.PolynomialPromptCache.build(
            model(), 0.3 * a["prompt"], eps=1e-3, radius=8.0
        )
    return reference.InputBlockCache.build(model(), a["xs"], a["ys"])


def _spec() -> capacity.CapacitySpec:
    return capacity.CapacitySpec(
        n_pairs=1, d=1, input_length=2, width=2, prompt_lengths=(1,), max_steps=3
    )


def _lookup_xs() -> dict[str, Any]:
    return {"xs": np.array([[[0.1, 0.2]], [[0.7, 0.9]]])}  # (N, L, d)


def _training(**fixed: Any) -> Factory:
    return _model_call(
        reference.train_prompt,
        "prompt",
        "xs",
        "ys",
        max_steps=4,
        lr=0.05,
        target_loss=0.0,
        patience=200,
        min_improvement=1e-4,
        betas=(0.9, 0.999),
        adam_eps=1e-8,
        **fixed,
    )


def _rng_kw(fn: Callable[..., Any], *names: str, **fixed: Any) -> Factory:
    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        f, kwargs = _model_call(fn, *names, **fixed)()
        return f, {**kwargs, "rng": _rng(3)}

    return build


def _wang() -> tuple[Callable[..., Any], dict[str, Any]]:
    data = capacity.wang_dataset(
        reference.Transformer.random(2, rng=1, width=3), length=3, rng=_rng(0)
    )
    return capacity.wang_loss_floor, {"ys": data.ys, "permutation": data.permutation}


def _defect() -> tuple[Callable[..., Any], dict[str, Any]]:
    a = _arrays()
    m = reference.Transformer.random(2, rng=1, width=3)
    return capacity.permutation_defect, {
        "model": m,
        "prompt": a["prompt"],
        "x": a["x"],
        "permutation": np.array([1, 2, 3, 0]),
    }


def _capacity_call(fn: Callable[..., Any], **fixed: Any) -> Factory:
    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        a = _arrays()
        kwargs = {"model": model(), "xs": a["xs"][:1], "ys": a["ys"][:1], "rng": _rng(4)}
        return fn, {**kwargs, "prompt_lengths": [1], "max_steps": 3, "restarts": 1, **fixed}

    return build


def _transformer() -> tuple[Callable[..., Any], dict[str, Any]]:
    m = model()
    kwargs = {"embed": np.eye(2, 3), "readout": np.eye(3, 2), "attn": m.attn}
    return reference.Transformer, {
        **kwargs,
        "ffn_in": m.ffn_in,
        "positional": _rng(5).random((6, 3)),
    }


def _layer(cls: Callable[..., Any], shapes: dict[str, tuple[int, ...]], **fixed: Any) -> Factory:
    def build() -> tuple[Callable[..., Any], dict[str, Any]]:
        r = _rng(6)
        return cls, {n: r.standard_normal(s) for n, s in shapes.items()} | fixed

    return build


def _target(x: np.ndarray) -> np.ndarray:
    return 1.0 - x


BASES: dict[str, Factory] = {
    # model
    "reference.attention": _qkv(reference.attention, scale=0.7, chunk_elements=3),
    "reference.softmax_rows": lambda: (
        reference.softmax_rows,
        {"logits": _rng(7).standard_normal((3, 4))},
    ),
    "reference.Attention": _layer(
        reference.Attention, {f"w_{c}": (3, 3) for c in "qkvo"}, scale=0.5
    ),
    "reference.FFNLayer": _layer(
        reference.FFNLayer, {"w1": (3, 4), "b1": (4,), "w2": (4, 3), "b2": (3,)}
    ),
    "reference.Transformer": _transformer,
    "Transformer.random": _with(
        reference.Transformer.random,
        d=2,
        rng=_rng(0),
        width=3,
        key_width=3,
        value_width=2,
        ffn_in_layers=1,
        ffn_out_layers=2,
        ffn_hidden=4,
        max_length=4,
        scale=0.5,
        weight_scale=1.0,
    ),
    "FFNLayer.zeros": _with(reference.FFNLayer.zeros, width=3, hidden=2),
    "Transformer().__call__": _method(model, "__call__", z="z"),
    "Transformer().embed_inputs": _method(model, "embed_inputs", x="x"),
    "Transformer().with_dtype": _method(model, "with_dtype", dtype=np.float32),
    "reference.prompt_forward": _model_call(reference.prompt_forward, "prompt", "x"),
    "reference.prompt_loss_and_grad": _model_call(
        reference.prompt_loss_and_grad, "prompt", "xs", "ys"
    ),
    "reference.train_prompt": _training(),
    "reference.init_prompt_normal": _rng_kw(reference.init_prompt_normal, length=2, std=1.0),
    "reference.init_prompt_from_inputs": _rng_kw(reference.init_prompt_from_inputs, "xs", length=2),
    "check_inputs": _model_call(prompt_tuning.check_inputs, "x", name="xs"),
    "check_prompt": _model_call(prompt_tuning.check_prompt, "prompt"),
    "check_betas": _with(training.check_betas, betas=(0.9, 0.99)),
    "resolve_scale": _with(resolve_scale, scale="practice", d=4),
    # efficiency
    "reference.fast_attention": _qkv(
        reference.fast_attention,
        scale=1.0,
        eps=1e-3,
        R=2.0,
        max_rank=4096,
        fallback="auto",
        allow_slower=True,
        fit_method="minimax",
    ),
    "reference.low_rank_key_value_grad": _qkv(
        reference.low_rank_key_value_grad,
        grad=True,
        scale=1.0,
        eps=1e-4,
        R=2.0,
        fit_method="minimax",
    ),
    "exact_key_value_grad": _qkv(exact_key_value_grad, grad=True, scale=1.0),
    "reference.fast_prompt_loss_and_grad": _model_call(
        reference.fast_prompt_loss_and_grad,
        "prompt",
        "xs",
        "ys",
        eps=1e-4,
        radius=8.0,
        fit_method="minimax",
    ),
    "ExactPromptCache.build": _model_call(reference.ExactPromptCache.build, "prompt"),
    "PolynomialPromptCache.build": _model_call(
        reference.PolynomialPromptCache.build, "prompt", eps=1e-3, radius=8.0, fit_method="minimax"
    ),
    "InputBlockCache.build": _model_call(reference.InputBlockCache.build, "xs", "ys"),
    "ExactPromptCache().forward": _method(lambda: _cache("exact"), "forward", x="x"),
    "PolynomialPromptCache().forward": _method(lambda: _cache("polynomial"), "forward", x="x"),
    "InputBlockCache().loss_and_grad": _method(
        lambda: _cache("block"), "loss_and_grad", prompt="prompt"
    ),
    "plan": _with(
        planning.plan, n=100, m=100, d=2, dv=3, radius=2.0, eps=1e-3, fit_method="minimax"
    ),
    "fit_exp": _with(polyfit.fit_exp, radius=2.0, eps=1e-3, method="minimax", max_degree=40),
    "largest_certifiable_radius": _with(polyfit.largest_certifiable_radius, eps=1e-3),
    "taylor_coefficients": _with(polyfit.taylor_coefficients, degree=5),
    "monomial_table": _with(features.monomial_table, dim=2, degree=3),
    "rank": _with(features.rank, dim=2, degree=3),
    "certified_output_bound": _with(
        certified_output_bound, relative_error=1e-3, v_spread=np.array([1.0, 2.0])
    ),
    # capacity
    "random_pairs": _with(capacity.random_pairs, n_pairs=3, d=2, length=4, rng=_rng(8)),
    "wang_dataset": lambda: (
        capacity.wang_dataset,
        {"model": reference.Transformer.random(2, rng=1, width=3), "length": 3, "rng": _rng(9)},
    ),
    "wang_loss_floor": _wang,
    "permutation_defect": _defect,
    "trained_losses": _capacity_call(capacity.trained_losses),
    "gradient_capacity": _capacity_call(
        capacity.gradient_capacity, tolerance=0.5, lr=0.1, patience=500, min_improvement=1e-4
    ),
    "run_capacity_spec": lambda: (capacity.run_capacity_spec, {"spec": _spec()}),
    "operator_norm_max": lambda: (
        lipschitz.operator_norm_max,
        {"a": _rng(10).standard_normal((3, 3))},
    ),
    "prompt_lipschitz_bound": _model_call(
        lipschitz.prompt_lipschitz_bound, prompt_radius=1.0, input_length=4
    ),
    # constructions
    "reference.construct_universal": _with(
        reference.construct_universal,
        f=_target,
        d=1,
        L=1,
        lipschitz=1.0,
        eps=0.25,
        backend="float64",
        decoder="deep",
        band=0.0625,
    ),
    "mpmath construct_universal": _with(
        reference.construct_universal,
        f=_target,
        d=1,
        L=1,
        lipschitz=1.0,
        eps=0.25,
        backend="mpmath",
        precision_bits=80,
    ),
    "reference.construct_memorizer": lambda: (
        reference.construct_memorizer,
        {
            **_memorizer_data(),
            "eps": 0.1,
            "separation": 0.5,
            "backend": "float64",
            "band": 2.0**-30,
            "decoder": "deep",
        },
    ),
    "Construction().forward": _method(
        _construction, "forward", x=np.array([[0.3]]), on_band="warn"
    ),
    "Construction().off_band": _method(_construction, "off_band", x=np.array([[0.3]])),
    "Construction().cells": _method(_construction, "cells", x=np.array([[0.3]])),
    "min_token_separation": lambda: (min_token_separation, _lookup_xs()),
    "grid_sizes": _with(grid_sizes, eps=0.1, lipschitz=1.0),
    "check_grid": _with(sizes.check_grid, d=1, L=2, K=4, Q=4),
    "precision_needed": _with(sizes.precision_needed, d=1, L=2, K=4, Q=4),
    "check_sizes": _with(check_sizes, d=1, L=2, K=4, Q=4, decoder="deep"),
    "to_fraction": _with(rationals.to_fraction, value=0.375),
    "Fraction-to_fraction": _with(rationals.to_fraction, value=Fraction(3, 8)),
}
