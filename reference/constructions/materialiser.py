"""Exact rationals as float64 or mpmath numbers: the materialiser behind every dense backend.

>>> from fractions import Fraction
>>> from reference.constructions.materialiser import _Materialiser
>>> _Materialiser("float64", 53).scalar(Fraction(3, 8))
0.375
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.constructions.layout import _Unit
from reference.model.transformer import FFNLayer

#: No public API: the number conversion of the dense backends, called with checked arguments.
__all__: list[str] = []


class _Materialiser:
    """Turns exact rationals into float64 or mpmath.mpf arrays at a given precision."""

    def __init__(self, backend: str, precision_bits: int) -> None:
        self.backend = backend
        self.precision_bits = precision_bits

    def scalar(self, value: Fraction | int) -> object:
        """``value`` as a float64 or an ``mpmath.mpf`` at the working precision."""
        value = Fraction(value)
        if self.backend == "float64":
            return float(value)
        import mpmath

        with mpmath.workprec(self.precision_bits):
            return mpmath.mpf(value.numerator) / value.denominator

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        if self.backend == "float64":
            return np.zeros(shape)
        import mpmath

        out = np.empty(shape, dtype=object)
        out.fill(mpmath.mpf(0))
        return out

    def dense(self, shape: tuple[int, int], entries: dict) -> np.ndarray:
        out = self.zeros(shape)
        for (i, j), value in entries.items():
            out[i, j] = self.scalar(value)
        return out

    def layer(self, width: int, units: list[_Unit]) -> FFNLayer:
        hidden = len(units)
        w1, b1 = self.zeros((width, hidden)), self.zeros((hidden,))
        w2, b2 = self.zeros((hidden, width)), self.zeros((width,))
        cache: dict[tuple[int, int], object] = {}

        def conv(v: Fraction) -> object:
            if self.backend == "float64":
                return float(v)  # correctly rounded, as in scalar()
            key = (v.numerator, v.denominator)  # hashing a Fraction itself is slow
            if key not in cache:
                cache[key] = self.scalar(v)
            return cache[key]

        # gather (index, value) lists, then one fancy assignment per array (fast for wide layers)
        rows_in, cols_in, vals_in, rows_out, cols_out, vals_out = [], [], [], [], [], []
        for h, unit in enumerate(units):
            for c, w in unit.w_in.items():
                rows_in.append(c)
                cols_in.append(h)
                vals_in.append(conv(w))
            b1[h] = conv(unit.bias)
            for c, w in unit.w_out.items():
                rows_out.append(h)
                cols_out.append(c)
                vals_out.append(conv(w))
        for arr, rows, cols, vals in (
            (w1, rows_in, cols_in, vals_in),
            (w2, rows_out, cols_out, vals_out),
        ):
            if vals:
                arr[np.array(rows), np.array(cols)] = np.array(vals, dtype=arr.dtype)
        return FFNLayer(w1, b1, w2, b2)
