"""A derivation as text and as LaTeX: its premises (with kinds) and its steps (with rules).

Typed structurally (``Any``) so this module never imports the engine back.

>>> from verify.derive import derivation
>>> from verify.derive.render import as_text
>>> print(as_text(derivation("foundation.relative_pattern")).splitlines()[0])
foundation.relative_pattern  (claim foundation)
"""

from __future__ import annotations

from typing import Any

import sympy as sp

_LATEX_RELATION = {"==": "=", "<=": r"\le", ">=": r"\ge"}
_TEXT_RELATION = {"==": "=", "<=": "<=", ">=": ">="}


def _premise_tail(premise: Any) -> str:
    if premise.kind == "definition":
        return f"read off the built objects by {premise.test}"
    if premise.kind == "lemma":
        return premise.proof or f"cited: {premise.source}"
    return "assumed"


def as_text(derivation: Any) -> str:
    """Premises then numbered steps, each with its rule and what sympy verified."""
    lines = [
        f"{derivation.name}  (claim {derivation.claim})",
        f"goal: {derivation.goal}",
        "premises:",
    ]
    for p in derivation.premises:
        statement = sp.sstr(p.statement) if p.statement is not None else "(in words)"
        lines.append(f"  [{p.kind}] {p.name}: {statement}")
        lines.append(f"      {p.text} — {_premise_tail(p)}")
    lines.append("steps:")
    for step in derivation.steps:
        lead = sp.sstr(derivation.quantity) if step.number == 1 else ""
        lines.append(
            f"  {step.number}. {lead} {_TEXT_RELATION[step.relation]} {sp.sstr(step.claimed)}"
        )
        reason = f"{step.why}; " if step.why else ""
        lines.append(f"        [{step.rule}] {reason}{step.detail}")
    lines.append(
        f"result: {sp.sstr(derivation.quantity)} {_TEXT_RELATION[derivation.relation]} "
        f"{sp.sstr(derivation.result)}"
    )
    return "\n".join(lines)


def _escape(text: str) -> str:
    for char in ("\\", "_", "&", "%", "#", "$", "{", "}"):
        text = text.replace(char, "\\" + char if char != "\\" else r"\textbackslash{}")
    return text


def step_latex(derivation: Any, step: Any) -> str:
    """One step as ``quantity \\le expr`` (the quantity shown on the first step only)."""
    lead = sp.latex(derivation.quantity) if step.number == 1 else ""
    return f"{lead} {_LATEX_RELATION[step.relation]} {sp.latex(step.claimed)}".strip()


def result_latex(derivation: Any) -> str:
    """``quantity \\le result``: the derivation's statement in LaTeX."""
    relation = _LATEX_RELATION[derivation.relation]
    return f"{sp.latex(derivation.quantity)} {relation} {sp.latex(derivation.result)}"


def as_latex(derivation: Any) -> str:
    """A LaTeX fragment: premises as an itemize, steps as an ``align*``."""
    lines = [
        rf"\paragraph{{{_escape(derivation.name)}}} {_escape(derivation.goal)}",
        r"\begin{itemize}",
    ]
    for p in derivation.premises:
        statement = f" ${sp.latex(p.statement)}$" if p.statement is not None else ""
        tail = _escape(_premise_tail(p))
        lines.append(
            rf"\item \textbf{{{p.kind}}} \texttt{{{_escape(p.name)}}}:{statement} — "
            rf"{_escape(p.text)} ({tail})"
        )
    lines += [r"\end{itemize}", r"\begin{align*}"]
    for step in derivation.steps:
        lead = sp.latex(derivation.quantity) if step.number == 1 else ""
        relation = _LATEX_RELATION[step.relation]
        label = _escape(f"{step.rule}" + (f": {step.why}" if step.why else ""))
        lines.append(rf"{lead} &{relation} {sp.latex(step.claimed)} && \text{{{label}}} \\")
    lines += [r"\end{align*}", rf"Result: ${result_latex(derivation)}$"]
    return "\n".join(lines)
