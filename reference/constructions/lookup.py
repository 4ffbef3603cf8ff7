"""The lookup transformer behind the universality and memorization constructions (theory.md §3).

One frozen :class:`~reference.model.transformer.Transformer` (depending on ``d, L, K, Q, η`` and
the backend only) and one prompt (depending on a table of output digits) realise a lookup: input
token ``i`` at position ``pos`` in grid cell ``c`` reads the prompt row with id
``u = pos·K^d + c``, whose value packs the quantized outputs of that token for every *context*
(the cells of the other ``L − 1`` tokens) as base-``Q`` digits; ``FFN_out`` extracts the digit
of the actual context.

Coordinates of the model width ``D`` (all names in
:class:`~reference.constructions.layout.Layout`):

* ``x_r`` (the input token), ``one`` and ``pos_p`` (positional encoding: 1 and a one-hot
  position), ``flag`` (1 on prompt rows only: drives every ``FFN_in`` pre-activation negative
  there);
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
``float64`` (numpy) or ``mpmath`` (object arrays of ``mpmath.mpf`` at ``precision_bits``), or
evaluated as it stands by the ``exact`` backend (:mod:`reference.constructions.exact`).

This module builds it (:func:`construct_lookup`) from the pieces, one job per module (import each
name from the module that defines it; nothing is re-exported here):

* the spec: :mod:`reference.constructions.spec`; the layout and exact spec types:
  :mod:`reference.constructions.layout`;
* the result type: :mod:`reference.constructions.construction`;
* sizes and precision: :mod:`reference.constructions.sizes`; size limits:
  :mod:`reference.constructions.limits`;
* cells and packed tables: :mod:`reference.constructions.packing`;
* the decoders: :mod:`reference.constructions.decoders.deep`,
  :mod:`reference.constructions.decoders.wide`, :mod:`reference.constructions.decoders.shallow`;
* the dense backends: :mod:`reference.constructions.materialise`; the exact backend:
  :mod:`reference.constructions.exact.model`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.constructions.construction import Construction
from reference.constructions.exact.model import exact_from_spec
from reference.constructions.limits import check_sizes
from reference.constructions.materialise import _spec_max_weight, build_prompt, materialise
from reference.constructions.packing import (
    pack_tables,
)
from reference.constructions.sizes import (
    DECODERS,
    contexts,
    decoder_precision_needed,
    inverse_temperature,
    log2_levels,
    resolve_precision,
    shallow_inverse_temperature,
)
from reference.constructions.spec import lookup_spec

#: No public API: the builders behind construct_universal and construct_memorizer
#: (construct_lookup validates its arguments; build_lookup is called with checked ones).
__all__: list[str] = []


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
    >>> from reference.constructions.lookup import construct_lookup
    >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> c.forward(np.array([[0.2]])).tolist(), c.forward(np.array([[0.8]])).tolist()
    ([[0.25]], [[0.75]])
    """
    T = contexts(d, L, K)
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    check_sizes(d, L, K, Q, decoder, backend=backend)
    needed = decoder_precision_needed(d, L, K, Q, decoder, eta)
    bits = resolve_precision(
        backend, precision_bits, needed, check_precision=check_precision, decoder=decoder
    )
    digits = np.asarray(digits)
    if digits.shape != (L * K**d, T, d):
        raise ValueError(f"digits: expected shape {(L * K**d, T, d)}, got {digits.shape}")
    check_backend_decoder(backend, decoder)
    return build_lookup(
        digits,
        d=d,
        L=L,
        K=K,
        Q=Q,
        eta=eta,
        backend=backend,
        bits=bits,
        needed=needed,
        error_bound=error_bound,
        lipschitz=lipschitz,
        eps=eps,
        decoder=decoder,
    )


def check_backend_decoder(backend: str, decoder: str) -> None:
    """Refuse a backend that cannot evaluate the decoder (the exact backend has no shallow model).

    >>> from reference.constructions.lookup import check_backend_decoder
    >>> check_backend_decoder("exact", "deep")
    >>> try:
    ...     check_backend_decoder("exact", "shallow")
    ... except ValueError as err:
    ...     print(err)
    backend: 'exact' evaluates the deep and wide decoders, not 'shallow'
    """
    if decoder == "shallow" and backend == "exact":
        raise ValueError("backend: 'exact' evaluates the deep and wide decoders, not 'shallow'")


def build_lookup(
    digits: np.ndarray,
    *,
    d: int,
    L: int,
    K: int,
    Q: int,
    eta: Fraction,
    backend: str,
    bits: int,
    needed: int,
    error_bound: float,
    lipschitz: float | None,
    eps: float | None,
    decoder: str,
) -> Construction:
    """:func:`construct_lookup`, called with checked arguments: sizes that passed
    :func:`~reference.constructions.limits.check_sizes`, a decoder the backend evaluates, the
    working precision ``bits`` resolved against ``needed`` and ``digits (L K^d, T, d)`` in
    ``0..Q−1``. The public entry points validate once and build through here.

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.lookup import build_lookup
    >>> c = build_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8),
    ...                  backend="float64", bits=53, needed=10, error_bound=0.25,
    ...                  lipschitz=None, eps=None, decoder="deep")
    >>> c.forward(np.array([[0.8]])).tolist()
    [[0.75]]
    """
    T = contexts(d, L, K)
    if decoder == "shallow":
        beta = shallow_inverse_temperature(d, L, K, Q, bits)
    else:
        beta = inverse_temperature(d, L, K, Q)
    spec = lookup_spec(d, L, K, Q, eta, beta, decoder)
    q = log2_levels(Q)
    if backend == "exact":  # the rational spec itself: nothing dense is materialised
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
