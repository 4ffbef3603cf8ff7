"""The result of a construction: :class:`Construction` (its model, prompt, resources and band
check) and :class:`BandWarning` (docs/universality.md)."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np

from reference._validation import as_array, check_dim
from reference.constructions.exact.evaluate import evaluate_exact
from reference.constructions.exact.model import ExactModel
from reference.constructions.packing import (
    cell_coordinates,
    in_band,
)
from reference.model.prompt_tuning import prompt_forward
from reference.model.transformer import Transformer

__all__ = ["ON_BAND", "BandWarning", "Construction"]


ON_BAND = ("warn", "raise", "ignore")


class BandWarning(UserWarning):
    """Some inputs of :meth:`Construction.forward` lie in the boundary band (or outside
    ``[0, 1]``), where the construction's error bound does not hold."""


@dataclass(frozen=True, eq=False)
class Construction:
    """A constructed frozen model, its prompt and its resources (see docs/universality.md).

    The guarantee ``error <= error_bound`` holds OFF the band only: for inputs whose every
    coordinate lies in ``[0, 1]`` at distance ``>= band`` from the interior cell boundaries
    ``j/K`` (:meth:`off_band` gives the mask; the band has measure ``<= eps``). Inside it a token
    may be read as its neighbour cell and the error can reach the whole range; :meth:`forward`
    warns (:class:`BandWarning`) or raises there.

    Evaluate with :meth:`forward` (converts ``x`` to the backend and runs at its precision), or
    with ``reference.prompt_forward(c.model, c.prompt, x)`` (float64, no band check).
    """

    model: Transformer | None  # None for the exact backend (no dense weights)
    prompt: np.ndarray | None
    d: int
    L: int
    K: int
    Q: int
    contexts: int
    prompt_rows: int
    bits_per_row: int
    ffn_in_widths: tuple[int, ...]
    ffn_out_widths: tuple[int, ...]
    depth_in: int
    depth_out: int
    max_weight: float
    error_bound: float
    band: float
    beta: int
    backend: str
    precision_bits: int
    precision_needed: int
    decoder: str = "deep"
    lipschitz: float | None = None
    eps: float | None = None
    exact: ExactModel | None = None  # the exact backend's model (reference.constructions.exact)

    def __repr__(self) -> str:
        return (
            f"Construction(d={self.d}, L={self.L}, K={self.K}, Q={self.Q}, "
            f"prompt_rows={self.prompt_rows}, bits_per_row={self.bits_per_row}, "
            f"backend={self.backend!r}, precision_bits={self.precision_bits})"
        )

    def off_band(self, x: np.ndarray) -> bool | np.ndarray:
        """Whether each sequence ``x (L, d)`` / ``(B, L, d)`` lies in ``[0,1]`` and at distance
        ``>= band`` from every interior cell boundary ``j/K`` (where the guarantee holds).

        >>> from fractions import Fraction
        >>> from reference.constructions.lookup import construct_lookup
        >>> import numpy as np
        >>> c = construct_lookup(np.zeros((2, 1, 1), dtype=np.int64), d=1, L=1, K=2, Q=2,
        ...                      eta=Fraction(1, 8))
        >>> c.off_band(np.array([[0.1]])), c.off_band(np.array([[0.45]]))
        (True, False)
        """
        arr = self._sequences(x)
        with np.errstate(over="ignore", invalid="ignore"):  # |x| near the float max: not in [0, 1]
            ok = ~in_band(arr, self.K, self.band) & (arr >= 0) & (arr <= 1)
        per_sequence = np.asarray(ok.all(axis=(-2, -1)))  # () or (B,)
        return bool(per_sequence) if per_sequence.ndim == 0 else per_sequence

    def _sequences(self, x: object) -> np.ndarray:
        """``x`` checked (finite real floats or mpmath, shape ``(L, d)`` or ``(B, L, d)``) as
        float64."""
        arr = as_array("x", x, ndim=(2, 3), allow_object=True)
        if arr.shape[-2:] != (self.L, self.d):
            raise ValueError(
                f"x: expected shape ({self.L}, {self.d}) or (B, {self.L}, {self.d}), "
                f"got {arr.shape}"
            )
        return np.asarray(arr, dtype=np.float64)

    def cells(self, x: np.ndarray) -> np.ndarray:
        """Grid cell per coordinate, ``min(⌊K x⌋, K − 1)``, as integers (same shape as ``x``:
        tokens ``(..., d)``; coordinates outside ``[0, 1]`` go to the edge cells)."""
        arr = as_array("x", x, ndim=range(1, 33), allow_object=True)
        check_dim("x", arr, -1, self.d, "token width d")
        return cell_coordinates(np.clip(np.asarray(arr, dtype=np.float64), 0.0, 1.0), self.K)

    def convert(self, x: np.ndarray) -> np.ndarray:
        """``x`` on this construction's backend (mpmath: exact conversion to ``mpf``)."""
        arr = as_array("x", x, ndim=(2, 3), allow_object=True)
        if self.backend == "float64" or arr.dtype == object:
            return arr
        import mpmath

        with mpmath.workprec(self.precision_bits):
            return np.vectorize(mpmath.mpf, otypes=[object])(arr.astype(np.float64))

    def working_precision(self) -> contextlib.AbstractContextManager:
        """Context manager setting ``mpmath`` to :attr:`precision_bits` (no-op for float64)."""
        if self.backend == "float64":
            return contextlib.nullcontext()
        import mpmath

        return mpmath.workprec(self.precision_bits)

    def forward(self, x: np.ndarray, *, on_band: str = "warn") -> np.ndarray:
        """``τ([P; X])``: within :attr:`error_bound` of the target only OFF the band.

        Inputs with a coordinate closer than :attr:`band` to an interior cell boundary ``j/K``
        (or outside ``[0, 1]``) may be decoded into the wrong cell: their error is unbounded
        by the theorem (up to the whole range). ``on_band``: ``"warn"`` (default) issues a
        :class:`BandWarning` giving the fraction of such inputs, ``"raise"`` raises it as a
        ``ValueError``, ``"ignore"`` does neither; :meth:`off_band` gives the mask. The value
        is ``prompt_forward(model, prompt, x)`` at the backend's precision, as float64; with
        the ``"exact"`` backend it is the exact rational evaluation
        (:func:`reference.constructions.exact.evaluate.evaluate_exact`: a proof per sequence),
        as float64, and a sequence the certified softmax enclosure cannot decide raises
        ``ValueError``.

        >>> import numpy as np
        >>> from fractions import Fraction
        >>> from reference.constructions.lookup import construct_lookup
        >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2,
        ...                      eta=Fraction(1, 8))
        >>> c.forward(np.array([[0.45]]), on_band="ignore").tolist()
        [[0.25]]
        """
        if on_band not in ON_BAND:
            raise ValueError(f"on_band: expected one of {ON_BAND}, got {on_band!r}")
        if on_band != "ignore":
            self._check_band(x, on_band)
        if self.backend == "exact":
            arr = as_array("x", x, ndim=(2, 3))
            if self.exact is None:  # the message exact_forward gave (a hand-built Construction)
                raise TypeError(f"model: expected an ExactModel or Construction, got {type(None)}")
            exact = evaluate_exact(self.exact, arr)
            if exact.undecided.any():
                raise ValueError(
                    f"x: {int(exact.undecided.sum())} sequence(s) not decided by the certified "
                    "softmax enclosure (no output is returned uncertified)"
                )
            return exact.as_float().reshape(arr.shape)
        with self.working_precision():
            # model and prompt are None on the exact backend only (above); prompt_forward
            # rejects a None one with a named TypeError
            out = prompt_forward(self.model, self.prompt, self.convert(x))  # type: ignore[arg-type]
        return np.asarray(out, dtype=np.float64) if out.dtype == object else out

    def _check_band(self, x: np.ndarray, on_band: str) -> None:
        arr = as_array("x", x, ndim=(2, 3), allow_object=True)
        ok = np.atleast_1d(self.off_band(np.asarray(arr, dtype=np.float64)))  # (B,)
        bad = int(ok.size - ok.sum())
        if bad == 0:
            return
        message = (
            f"{bad} of {ok.size} input sequences ({bad / ok.size:.2%}) lie in the band (a "
            f"coordinate within {self.band:g} of a cell boundary j/{self.K}) or outside [0, 1]: "
            f"the guarantee error <= {self.error_bound:g} holds only off the band (mask: "
            f"Construction.off_band(x))"
        )
        if on_band == "raise":
            raise ValueError(f"x: {message}")
        warnings.warn(message, BandWarning, stacklevel=3)
