"""The exact identities of theory.md §2 and the tolerances they are checked to, in sympy.

Symbols: ``a`` (a query row's total attention weight on the prompt, ``0 < a < 1``),
``s_with``/``s_without`` (its weight on one input row with / without the prompt),
``o_with``/``o_without`` (its attention output with / without the prompt), ``o_prompt`` (the
prompt-weighted average of the prompt values at its query).

* :data:`RELATIVE_PATTERN` — ``s_with = (1 − a)·s_without``;
* :data:`BIAS_ONLY` — ``o_with = (1 − a)·o_without + a·o_prompt``;
* :data:`IDENTITY_TOLERANCE`, :data:`GRADIENT_TOLERANCE` — the relative errors a float64
  implementation must stay under (identities; analytic gradient vs central differences).

Both identities are derivations' statements (:mod:`verify.derive.derivations.foundation`,
proved for every ``Lp`` and ``L``); the right-hand sides are lambdified
(:func:`relative_pattern_rhs`, :func:`bias_only_rhs`), and :func:`identity_residuals` re-checks
both on explicit sizes (``Lp`` prompt and ``L`` input keys, arbitrary real logits and values).

>>> from verify.claims.foundation.bounds import identity_residuals, relative_pattern_rhs
>>> relative_pattern_rhs(0.25, 0.5)
0.375
>>> identity_residuals(2, 2)
(0, 0)
"""

from __future__ import annotations

import sympy as sp

from reference._validation import positive_int
from verify.derive import chosen, statement
from verify.derive.derivations.foundation import a, o_prompt, o_without, s_without
from verify.derive.derivations.foundation import o_with as o_with  # re-exported symbols
from verify.derive.derivations.foundation import s_with as s_with

# both identities are derived for softmax of any size (python -m verify.derive
# foundation.relative_pattern, foundation.bias_only); identity_residuals re-checks explicit sizes
RELATIVE_PATTERN = statement("foundation.relative_pattern")
BIAS_ONLY = statement("foundation.bias_only")

IDENTITY_TOLERANCE = chosen("1e-12", "relative error a float64 identity must stay under")
GRADIENT_TOLERANCE = chosen("1e-6", "relative error of the gradient against central differences")

relative_pattern_rhs = sp.lambdify((a, s_without), RELATIVE_PATTERN.rhs, "numpy")
bias_only_rhs = sp.lambdify((a, o_without, o_prompt), BIAS_ONLY.rhs, "numpy")

RELATIVE_PATTERN_LATEX = sp.latex(RELATIVE_PATTERN)
BIAS_ONLY_LATEX = sp.latex(BIAS_ONLY)


def _softmax(logits: list[sp.Expr]) -> list[sp.Expr]:
    exps = [sp.exp(t) for t in logits]
    total = sp.Add(*exps)
    return [e / total for e in exps]


def identity_residuals(
    prompt_rows: int,
    input_rows: int,
    pattern: sp.Eq = RELATIVE_PATTERN,
    bias: sp.Eq = BIAS_ONLY,
) -> tuple[sp.Expr, sp.Expr]:
    """``lhs − rhs`` of both identities for one query row, simplified (both are ``0``).

    Logits ``u_m`` (prompt keys), ``w_j`` (input keys) and scalar values ``c_m``, ``x_j`` are
    free real symbols; the relative-pattern residual is taken at the first input key.
    ``pattern`` and ``bias`` are the identities to prove (a planted wrong one must not prove):

    >>> import sympy as sp
    >>> from verify.claims.foundation.bounds import a
    >>> from verify.claims.foundation.bounds import identity_residuals
    >>> from verify.claims.foundation.bounds import s_with
    >>> from verify.claims.foundation.bounds import s_without
    >>> wrong = sp.Eq(s_with, (1 - a) ** 2 * s_without)
    >>> identity_residuals(1, 1, pattern=wrong)[0] != 0
    True
    """
    prompt_rows = positive_int("prompt_rows", prompt_rows, maximum=1000)  # symbols per row
    input_rows = positive_int("input_rows", input_rows, maximum=1000)
    for name, identity in (("pattern", pattern), ("bias", bias)):
        if not isinstance(identity, sp.Equality):
            raise TypeError(
                f"{name}: expected a sympy Eq (an identity), got {type(identity).__name__}"
            )
    u = sp.symbols(f"u0:{prompt_rows}", real=True)
    w = sp.symbols(f"w0:{input_rows}", real=True)
    c = sp.symbols(f"c0:{prompt_rows}", real=True)
    x = sp.symbols(f"x0:{input_rows}", real=True)
    s_full = _softmax([*u, *w])
    s_inputs_only = _softmax(list(w))
    s_prompt_only = _softmax(list(u))
    mass = sp.Add(*s_full[:prompt_rows])
    pattern_residual = s_full[prompt_rows] - pattern.rhs.subs(
        {a: mass, s_without: s_inputs_only[0]}
    )
    out_full = sp.Add(*(si * vi for si, vi in zip(s_full, [*c, *x], strict=True)))
    out_inputs = sp.Add(*(si * vi for si, vi in zip(s_inputs_only, x, strict=True)))
    out_prompt = sp.Add(*(si * vi for si, vi in zip(s_prompt_only, c, strict=True)))
    bias_residual = out_full - bias.rhs.subs({a: mass, o_without: out_inputs, o_prompt: out_prompt})
    return sp.simplify(sp.together(pattern_residual)), sp.simplify(sp.together(bias_residual))
