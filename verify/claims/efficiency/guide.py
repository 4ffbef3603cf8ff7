"""The report's reading guide of the ``efficiency`` claim: its docs page and what it shows.

The error bound it quotes is printed from the sympy expression the checks use
(:data:`verify.claims.efficiency.bounds.OUTPUT_ERROR`), never typed a second time.

>>> from verify.claims.efficiency.guide import GUIDE, bound_text
>>> bound_text() in GUIDE.shows
True
"""

from __future__ import annotations

import sympy as sp

from verify.claims.base import ClaimGuide
from verify.claims.efficiency import bounds

# sympy's plain printer → the report's Unicode (ε for epsilon, · for products, ² for squares)
_UNICODE = (("epsilon", "ε"), ("**2", "²"), ("*", "·"), (" - ", " − "), ("sqrt", "√"))


def bound_text(expr: sp.Expr = bounds.OUTPUT_ERROR) -> str:
    """``expr`` as the guide prints it, with ``W`` the column's spread ``max V − min V``.

    >>> import sympy as sp
    >>> from verify.claims.efficiency.guide import bound_text
    >>> bound_text(sp.Symbol("epsilon") / 2)
    'ε/2'
    """
    text = sp.sstr(expr)
    for plain, pretty in _UNICODE:
        text = text.replace(plain, pretty)
    return text


GUIDE = ClaimGuide(
    docs="efficiency.md#the-statement-checked",
    shows=(
        "With bounded attention logits (radius R), replacing exp by a certified polynomial "
        "factorizes attention at rank C(d+g, g), with max error per output column at most "
        f"{bound_text()} (W = max V − min V of that column) plus the certified rounding of the "
        "computed path; for small R this is almost linear in the sequence length, beyond the "
        "crossover it loses to exact attention. The checks measure the error against the "
        "certified bound, the degree and rank formulas and their asymptotics, the low-rank "
        "gradient, and that a cached prompt gives the same outputs at a cost independent of "
        "the prompt length. Runtimes here are indicative (one BLAS thread; the slopes are "
        "compared with the claim and a slope off by more than the tolerance is marked "
        "“off-slope”: a timing remark, never a failed check); the asv benchmarks are the "
        "measurement (docs/asv.md)."
    ),
)
