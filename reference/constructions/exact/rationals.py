"""Exact rationals and fixed-point integers of the exact backend.

The exact backend computes on integers at a fixed-point scale ``2^F`` (every value a dyadic
rational ``n / 2^e``), checking every operation exact. This module holds the conversions
(:func:`to_fraction`, :func:`dyadic_exponent`, fixed point), the exact dyadic product and the
backend's constants (the rational bound of ``log2 e`` and the headroom bits).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

#: A rational lower bound of ``log2 e = 1.44269504088896…`` (so ``e^{−g} <= 2^{−g·λ}``).
LOG2E_LOWER = Fraction(14426950408, 10**10)
#: Extra fixed-point bits beyond the finest input, prompt, bias or weight denominator.
HEADROOM_BITS = 16
#: Bits of the radius scale beyond the value scale (radii are rounded up at ``2^{−G}``).
RADIUS_EXTRA_BITS = 64


def dyadic_exponent(value: Fraction) -> int:
    """``e`` with ``value = n / 2^e`` (``n`` an integer); raises if ``value`` is not dyadic.

    >>> from fractions import Fraction
    >>> from reference.constructions.exact.rationals import dyadic_exponent
    >>> dyadic_exponent(Fraction(3, 8)), dyadic_exponent(Fraction(5))
    (3, 0)
    """
    den = Fraction(value).denominator
    if den & (den - 1):
        raise ValueError(f"value: the exact backend needs dyadic rationals, got {value}")
    return den.bit_length() - 1


def to_fraction(value: object) -> Fraction:
    """Exact rational value of a float, int, Fraction or ``mpmath.mpf`` (no rounding).

    >>> from reference.constructions.exact.rationals import to_fraction
    >>> to_fraction(0.375), to_fraction(3)
    (Fraction(3, 8), Fraction(3, 1))
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"value: expected a number or mpmath.mpf, got {type(value).__name__}")
    if isinstance(value, (int, np.integer, Fraction)):
        return Fraction(int(value)) if not isinstance(value, Fraction) else value
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ValueError(f"value: expected a finite number, got {value}")
        return Fraction(*value.as_integer_ratio())  # exact for every float width
    man_exp = getattr(value, "man_exp", None)
    if man_exp is None:
        raise TypeError(f"value: expected a number or mpmath.mpf, got {type(value).__name__}")
    import mpmath

    if not mpmath.isfinite(value):  # inf and nan carry a placeholder (0, e) mantissa
        raise ValueError(f"value: expected a finite number, got {value}")
    man, exp = man_exp
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def _fixed(value: Fraction, scale_bits: int) -> int:
    """``value · 2^scale_bits`` as an integer; raises if that is not exact."""
    scaled = Fraction(value) * (1 << scale_bits)
    if scaled.denominator != 1:
        raise ValueError(f"value {value} is not a multiple of 2^-{scale_bits} (fixed point)")
    return scaled.numerator


def _weight(w: Fraction) -> tuple[int, int]:
    """A dyadic weight as ``(numerator, exponent)``: ``w = numerator / 2^exponent``."""
    w = Fraction(w)
    return w.numerator, dyadic_exponent(w)


def _mul(x: Any, num: int, exp: int) -> Any:
    """``x · num / 2^exp`` on fixed-point integers (scalars or object arrays), exactly."""
    if exp == 0 and num in (1, -1):
        return x if num == 1 else -x
    y = x * num
    if exp:
        mask = (1 << exp) - 1
        if np.any(np.asarray(y & mask, dtype=object)):
            raise ArithmeticError("fixed point too coarse for an exact product; raise the scale")
        y = y >> exp
    return y
