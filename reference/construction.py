"""The lookup transformer behind the universality and memorization constructions (theory.md §3).

One frozen :class:`~reference.model.Transformer` (depending on ``d, L, K, Q, η`` and the backend
only) and one prompt (depending on a table of output digits) realise a lookup: input token ``i``
at position ``pos`` in grid cell ``c`` reads the prompt row with id ``u = pos·K^d + c``, whose value
packs the quantized outputs of that token for every *context* (the cells of the other ``L − 1``
tokens) as base-``Q`` digits; ``FFN_out`` extracts the digit of the actual context.

Coordinates of the model width ``D`` (all names in :class:`Layout`):

* ``x_r`` (the input token), ``one`` and ``pos_p`` (positional encoding: 1 and a one-hot position),
  ``flag`` (1 on prompt rows only: drives every ``FFN_in`` pre-activation negative there);
* ``FFN_in`` writes ``cell`` (flattened cell index), ``u`` (token id), ``u2`` (``u²``) and
  ``ch_p`` (``cell`` if the token sits at position ``p``, else 0) — all exact integers off the band;
* prompt rows carry ``pk1 = m``, ``pk2 = m²`` and ``pv_r`` (the packed table of output coordinate
  ``r``); attention (scale 1, inverse temperature ``β``) scores prompt row ``m`` with
  ``β u² − β (u − m)²`` and every input row with ``β u²``, so the matching prompt row and the ``L``
  input rows share the weight ``1/(L+1)``; ``W_O`` multiplies back by ``L + 1`` into ``rem0_r``
  (the packed table) and ``ach_p`` (the cell at position ``p``);
* ``FFN_out`` computes the context index ``cnt`` and extracts one digit per layer (``dig_r``),
  accumulating the selected digit in ``acc_r``; the read-out is ``(acc_r + 1/2) / Q``.

The spec is built in exact rationals (:class:`fractions.Fraction`) and materialised per backend:
``float64`` (numpy) or ``mpmath`` (object arrays of ``mpmath.mpf`` at ``precision_bits``).

This module assembles the pieces, one job per module: sizes and precision
(:mod:`reference.construction_sizes`), the layout and exact spec
(:mod:`reference.construction_layout`), size limits (:mod:`reference.construction_limits`), cells
and packed tables (:mod:`reference.packing`), the decoders (:mod:`reference.decoder_deep`,
:mod:`reference.decoder_wide`) and the backends (:mod:`reference.materialise`). Every name that
was importable from here before the split still is (``__all__`` lists the re-exported ones).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from reference._validation import as_array
from reference.construction_layout import (
    _ONE,
    Layout,
    _clamp_units,
    _context_units,
    _ffn_in_spec,
    _Spec,
    _Unit,
)
from reference.construction_limits import check_sizes, ffn_widths
from reference.construction_sizes import (
    BACKENDS,
    DECODERS,
    FLOAT64_BITS,
    GUARD_BITS,
    MAX_CONTEXTS,
    MAX_DENSE_ENTRIES,
    MAX_GRID_SEQUENCES,
    MAX_PROMPT_ROWS,
    MPMATH_EXTRA_BITS,
    band_width,
    contexts,
    decoder_precision_needed,
    decoder_ramps,
    inverse_temperature,
    log2_levels,
    power_of_two_at_least,
    precision_needed,
    resolve_precision,
    shallow_inverse_temperature,
)
from reference.decoder_deep import (
    _decoder_commit_units,
    _decoder_ramp_units,
    _ffn_out_spec,
    _remainder_in,
    _select_units,
)
from reference.decoder_shallow import shallow_spec
from reference.decoder_wide import _ffn_out_wide_spec, _wide_ramp_index
from reference.materialise import _Materialiser, _spec_max_weight, build_prompt, materialise
from reference.model import Transformer
from reference.packing import (
    cell_centers,
    cell_coordinates,
    context_index,
    digit_table,
    flatten_cells,
    grid_cells,
    in_band,
    pack_tables,
)
from reference.prompt_tuning import prompt_forward

#: The names other modules import from here since the split (their public API is in their own
#: modules); construct_lookup and lookup_spec, defined here, are still importable but internal:
#: the builders behind construct_universal and construct_memorizer, called with checked sizes.
__all__ = [
    "BACKENDS",
    "DECODERS",
    "FLOAT64_BITS",
    "GUARD_BITS",
    "MAX_CONTEXTS",
    "MAX_DENSE_ENTRIES",
    "MAX_GRID_SEQUENCES",
    "MAX_PROMPT_ROWS",
    "MPMATH_EXTRA_BITS",
    "ON_BAND",
    "_ONE",
    "BandWarning",
    "Construction",
    "Layout",
    "_Materialiser",
    "_Spec",
    "_Unit",
    "_clamp_units",
    "_context_units",
    "_decoder_commit_units",
    "_decoder_ramp_units",
    "_ffn_in_spec",
    "_ffn_out_spec",
    "_ffn_out_wide_spec",
    "_remainder_in",
    "_select_units",
    "_spec_max_weight",
    "_wide_ramp_index",
    "band_width",
    "build_prompt",
    "cell_centers",
    "cell_coordinates",
    "check_sizes",
    "context_index",
    "contexts",
    "decoder_ramps",
    "digit_table",
    "ffn_widths",
    "flatten_cells",
    "grid_cells",
    "in_band",
    "inverse_temperature",
    "log2_levels",
    "materialise",
    "pack_tables",
    "power_of_two_at_least",
    "precision_needed",
    "resolve_precision",
]


def lookup_spec(
    d: int, L: int, K: int, Q: int, eta: Fraction, beta: int, decoder: str = "deep"
) -> _Spec:
    """The exact rational spec of the lookup model (no allocation of dense arrays).

    ``decoder``: ``"deep"`` or ``"wide"`` (three ``FFN_in`` layers and a multi-layer ``FFN_out``),
    or ``"shallow"`` (one FFN layer on each side, :mod:`reference.decoder_shallow`).

    >>> from fractions import Fraction
    >>> from reference.construction import lookup_spec
    >>> spec = lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4)
    >>> spec.width, [len(layer) for layer in spec.ffn_in]
    (21, [1, 2, 2])
    """
    if decoder == "shallow":
        return shallow_spec(d, L, K, Q, eta, beta)
    lay = Layout(d, L, K, Q, decoder)
    spec = _Spec(lay.width, d, L)
    spec.ffn_in = _ffn_in_spec(lay, eta)
    spec.ffn_out = _ffn_out_spec(lay) if decoder == "deep" else _ffn_out_wide_spec(lay)
    spec.w_q = {(lay["u"], 0): _ONE, (lay["u2"], 1): _ONE, (lay["one"], 2): _ONE}
    spec.w_k = {
        (lay["pk1"], 0): Fraction(2 * beta),
        (lay["one"], 1): Fraction(beta),
        (lay["pk2"], 2): Fraction(-beta),
    }
    for r in range(d):
        spec.w_v[(lay.at("pv", r), r)] = _ONE
        spec.w_o[(r, lay.at("rem0", r))] = Fraction(L + 1)
        spec.readout[(lay.at("acc", r), r)] = Fraction(1, Q)
        spec.readout[(lay["one"], r)] = Fraction(1, 2 * Q)
    for p in range(L):
        spec.w_v[(lay.at("ch", p), d + p)] = _ONE
        spec.w_o[(d + p, lay.at("ach", p))] = Fraction(L + 1)
        spec.positional[(p, lay["one"])] = _ONE
        spec.positional[(p, lay.at("pos", p))] = _ONE
    return spec


# ------------------------------------------------------------------------------- the result type
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
    exact: Any = None  # the ExactModel of the exact backend (reference.exact_backend)

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
        >>> from reference.construction import construct_lookup
        >>> import numpy as np
        >>> c = construct_lookup(np.zeros((2, 1, 1), dtype=np.int64), d=1, L=1, K=2, Q=2,
        ...                      eta=Fraction(1, 8))
        >>> c.off_band(np.array([[0.1]])), c.off_band(np.array([[0.45]]))
        (True, False)
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim not in (2, 3) or arr.shape[-2:] != (self.L, self.d):
            raise ValueError(
                f"x: expected shape ({self.L}, {self.d}) or (B, {self.L}, {self.d}), "
                f"got {arr.shape}"
            )
        ok = ~in_band(arr, self.K, self.band) & (arr >= 0) & (arr <= 1)
        ok = ok.all(axis=(-2, -1))
        return bool(ok) if ok.ndim == 0 else ok

    def cells(self, x: np.ndarray) -> np.ndarray:
        """Grid cell per coordinate, ``min(⌊K x⌋, K − 1)``, as integers (same shape as ``x``)."""
        return cell_coordinates(np.asarray(x, dtype=np.float64), self.K)

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
        (:func:`reference.exact_backend.exact_forward`: a proof per sequence), as float64, and a
        sequence the certified softmax enclosure cannot decide raises ``ValueError``.

        >>> import numpy as np
        >>> from fractions import Fraction
        >>> from reference.construction import construct_lookup
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
            from reference.exact_backend import exact_forward  # imports this module

            arr = as_array("x", x, ndim=(2, 3))
            exact = exact_forward(self.exact, arr)
            if exact.undecided.any():
                raise ValueError(
                    f"x: {int(exact.undecided.sum())} sequence(s) not decided by the certified "
                    "softmax enclosure (no output is returned uncertified)"
                )
            return exact.as_float().reshape(arr.shape)
        with self.working_precision():
            out = prompt_forward(self.model, self.prompt, self.convert(x))
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


def construct_lookup(
    digits: np.ndarray,
    *,
    d: int,
    L: int,
    K: int,
    Q: int,
    eta: Fraction,
    backend: str = "float64",
    precision_bits: int | None = None,
    check_precision: bool = True,
    error_bound: float = 0.0,
    lipschitz: float | None = None,
    eps: float | None = None,
    decoder: str = "deep",
) -> Construction:
    """Build the lookup model and the prompt for a digit table ``digits (L K^d, T, d)``.

    Row ``m = pos·K^d + cell`` of ``digits`` holds, for every context ``t``, the output level
    (``0 <= a < Q``) of a token at position ``pos`` in cell ``cell``. Public entry points are
    :func:`reference.construct_universal` and :func:`reference.construct_memorizer`.

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.construction import construct_lookup
    >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> c.forward(np.array([[0.2]])).tolist(), c.forward(np.array([[0.8]])).tolist()
    ([[0.25]], [[0.75]])
    """
    T = contexts(d, L, K)
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    check_sizes(d, L, K, Q, decoder)
    needed = decoder_precision_needed(d, L, K, Q, decoder, eta)
    bits = resolve_precision(backend, precision_bits, needed, check_precision=check_precision)
    digits = np.asarray(digits)
    if digits.shape != (L * K**d, T, d):
        raise ValueError(f"digits: expected shape {(L * K**d, T, d)}, got {digits.shape}")
    if decoder == "shallow":
        if backend == "exact":
            raise ValueError("backend: 'exact' evaluates the deep and wide decoders, not 'shallow'")
        beta = shallow_inverse_temperature(d, L, K, Q, bits)
    else:
        beta = inverse_temperature(d, L, K, Q)
    spec = lookup_spec(d, L, K, Q, eta, beta, decoder)
    q = log2_levels(Q)
    if backend == "exact":  # the rational spec itself: nothing dense is materialised
        from reference.exact_backend import exact_from_spec  # imports this module

        exact = exact_from_spec(spec, pack_tables(digits, Q), d, L, K, Q, decoder)
        model, prompt = None, None
        prompt_rows = L * K**d
        ffn_in = tuple(len(layer) for layer in spec.ffn_in)
        ffn_out = tuple(len(layer) for layer in spec.ffn_out)
    else:
        exact = None
        model = materialise(spec, backend, bits)
        prompt = build_prompt(pack_tables(digits, Q), d, L, K, Q, backend, bits, decoder)
        prompt_rows = int(prompt.shape[0])
        ffn_in = tuple(layer.hidden for layer in model.ffn_in)
        ffn_out = tuple(layer.hidden for layer in model.ffn_out)
    return Construction(
        model=model,
        prompt=prompt,
        d=d,
        L=L,
        K=K,
        Q=Q,
        contexts=T,
        prompt_rows=prompt_rows,
        bits_per_row=T * d * q,
        ffn_in_widths=ffn_in,
        ffn_out_widths=ffn_out,
        depth_in=len(ffn_in),
        depth_out=len(ffn_out),
        max_weight=_spec_max_weight(spec),
        error_bound=float(error_bound),
        band=float(eta),
        beta=beta,
        backend=backend,
        precision_bits=bits,
        precision_needed=needed,
        lipschitz=lipschitz,
        eps=eps,
        decoder=decoder,
        exact=exact,
    )
