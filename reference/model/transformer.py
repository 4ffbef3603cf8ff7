"""The frozen model: one residual single-head attention layer between two token-wise FFN stacks.

``τ = FFN_out ∘ Attn ∘ FFN_in`` (theory.md §1), tokens as rows. Inputs ``x (L, d)`` are embedded
into the model width ``D`` by a fixed linear map ``embed (d, D)``, a fixed positional encoding
``positional (L_max, D)`` may be added to the input rows (never to prompt rows), the prompt
``P (Lp, D)`` lives in the model width, and outputs are read back to ``d`` by ``readout (D, d)``.

Every layer is a plain dataclass of numpy arrays; weights may have any rank. The same code runs
in float32, float64, and on object arrays of ``mpmath.mpf`` (the high-precision backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from reference._validation import (
    FLOAT_DTYPES,
    MAX_ELEMENTS,
    NumericalOverflow,
    as_array,
    as_rng,
    check_dim,
    check_elements,
    common_float,
    positive_float,
    positive_int,
)
from reference.model.attention import _attention_unchecked, _softmax

__all__ = ["MAX_LAYERS", "Attention", "FFNLayer", "Transformer"]

#: The most FFN layers per stack :meth:`Transformer.random` builds (each is a Python object).
MAX_LAYERS = 1024


def _dtype_name(*arrays: np.ndarray) -> str:
    return str(np.result_type(*arrays))


def _store(layer: object, arrays: dict[str, np.ndarray]) -> None:
    """Keep the checked arrays (lists converted, dtypes promoted) on a frozen dataclass."""
    for name, arr in arrays.items():
        object.__setattr__(layer, name, arr)


def relu(h: np.ndarray) -> np.ndarray:
    """Elementwise ``max(h, 0)``, for float and mpmath object arrays alike."""
    if h.dtype == object:
        return np.where(h > 0, h, 0 * h)
    return np.maximum(h, 0)


@dataclass(frozen=True, repr=False)
class FFNLayer:
    """Residual token-wise ReLU layer ``h ↦ h + ReLU(h w1 + b1) w2 + b2``.

    Shapes: ``w1 (D, H)``, ``b1 (H,)``, ``w2 (H, D)``, ``b2 (D,)``.

    >>> import numpy as np
    >>> from reference.model.transformer import FFNLayer
    >>> layer = FFNLayer.zeros(width=3, hidden=2)
    >>> layer(np.ones((1, 3))).tolist()
    [[1.0, 1.0, 1.0]]
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __post_init__(self) -> None:
        w1 = as_array("w1", self.w1, ndim=2, allow_object=True)
        width, hidden = w1.shape
        b1 = as_array("b1", self.b1, ndim=1, allow_object=True)
        w2 = as_array("w2", self.w2, ndim=2, allow_object=True)
        b2 = as_array("b2", self.b2, ndim=1, allow_object=True)
        _store(self, common_float({"w1": w1, "b1": b1, "w2": w2, "b2": b2}))
        check_dim("b1", b1, 0, hidden, "hidden width (w1.shape[1])")
        check_dim("w2", w2, 0, hidden, "hidden width (w1.shape[1])")
        check_dim("w2", w2, 1, width, "model width (w1.shape[0])")
        check_dim("b2", b2, 0, width, "model width (w1.shape[0])")

    def __repr__(self) -> str:
        return f"FFNLayer(width={self.width}, hidden={self.hidden}, dtype={_dtype_name(self.w1)})"

    @classmethod
    def zeros(cls, width: int, hidden: int) -> FFNLayer:
        """The identity layer (all weights zero)."""
        width = positive_int("width", width, maximum=MAX_ELEMENTS)
        hidden = positive_int("hidden", hidden, minimum=0, maximum=MAX_ELEMENTS)
        check_elements("hidden", width * hidden, "weights")
        return cls(
            np.zeros((width, hidden)), np.zeros(hidden), np.zeros((hidden, width)), np.zeros(width)
        )

    @property
    def width(self) -> int:
        return int(self.w1.shape[0])

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[1])

    def __call__(self, h: np.ndarray) -> np.ndarray:
        return h + relu(h @ self.w1 + self.b1) @ self.w2 + self.b2  # (..., D)

    def forward_with_cache(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output and the pre-activation ``h w1 + b1`` needed by :meth:`backward`."""
        pre = h @ self.w1 + self.b1  # (..., H)
        return h + relu(pre) @ self.w2 + self.b2, pre

    def backward(self, grad_out: np.ndarray, pre: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. the layer input, given the output gradient and the cached ``pre``."""
        grad_hidden = (grad_out @ self.w2.T) * (pre > 0)  # (..., H)
        return grad_out + grad_hidden @ self.w1.T  # (..., D)


def stack_forward(layers: tuple[FFNLayer, ...], h: np.ndarray) -> tuple[np.ndarray, list]:
    """Output of a stack of FFN layers and the pre-activations :func:`stack_backward` needs."""
    pres = []
    for layer in layers:
        h, pre = layer.forward_with_cache(h)
        pres.append(pre)
    return h, pres


def stack_backward(layers: tuple[FFNLayer, ...], pres: list, grad: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. the stack's input, given the output gradient and the cached ``pres``."""
    for layer, pre in zip(reversed(layers), reversed(pres), strict=True):
        grad = layer.backward(grad, pre)
    return grad


@dataclass(frozen=True, repr=False)
class Attention:
    """Residual single-head softmax attention without masking.

    ``Attn(Z) = Z + softmax(scale · (Z w_q)(Z w_k)ᵀ) (Z w_v) w_o``.
    Shapes: ``w_q (D, d_k)``, ``w_k (D, d_k)``, ``w_v (D, d_v)``, ``w_o (d_v, D)``.
    The ``scale`` is explicit: the paper's block uses 1, Alman–Song ``1/d``, practice ``1/√d_k``.
    """

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    scale: float = 1.0

    def __post_init__(self) -> None:
        w_q = as_array("w_q", self.w_q, ndim=2, allow_object=True)
        w_k = as_array("w_k", self.w_k, ndim=2, allow_object=True)
        w_v = as_array("w_v", self.w_v, ndim=2, allow_object=True)
        w_o = as_array("w_o", self.w_o, ndim=2, allow_object=True)
        _store(self, common_float({"w_q": w_q, "w_k": w_k, "w_v": w_v, "w_o": w_o}))
        width = w_q.shape[0]
        check_dim("w_k", w_k, 0, width, "model width (w_q.shape[0])")
        check_dim("w_k", w_k, 1, w_q.shape[1], "key width (w_q.shape[1])")
        check_dim("w_v", w_v, 0, width, "model width (w_q.shape[0])")
        check_dim("w_o", w_o, 0, w_v.shape[1], "value width (w_v.shape[1])")
        check_dim("w_o", w_o, 1, width, "model width (w_q.shape[0])")
        object.__setattr__(self, "scale", positive_float("scale", self.scale))

    @property
    def width(self) -> int:
        return int(self.w_q.shape[0])

    def __repr__(self) -> str:
        return (
            f"Attention(width={self.width}, key_width={self.w_q.shape[1]}, "
            f"value_width={self.w_v.shape[1]}, scale={self.scale:.6g}, "
            f"dtype={_dtype_name(self.w_q, self.w_k, self.w_v, self.w_o)})"
        )

    def weights(self, z: np.ndarray, query_rows: slice) -> np.ndarray:
        """Attention weights of the rows ``query_rows`` over all rows of ``z``: ``(..., q, n)``."""
        q = z[..., query_rows, :] @ self.w_q  # (..., q, d_k)
        k = z @ self.w_k  # (..., n, d_k)
        return _softmax((q @ np.swapaxes(k, -1, -2)) * self.scale)  # (..., q, n)

    def __call__(self, z: np.ndarray, query_rows: slice = slice(None)) -> np.ndarray:
        """Attention output of the rows ``query_rows`` (keys and values over all rows), by the
        chunked exact attention: the ``(q, n)`` weight matrix is never held whole."""
        zq = z[..., query_rows, :]  # (..., q, D)
        o = _attention_unchecked(zq @ self.w_q, z @ self.w_k, z @ self.w_v, self.scale)
        return zq + o @ self.w_o  # (..., q, D)


@dataclass(frozen=True, repr=False)
class Transformer:
    """The frozen one-layer, single-head model ``τ = FFN_out ∘ Attn ∘ FFN_in`` (theory.md §1).

    Attributes:
        embed: ``(d, D)`` fixed linear embedding of input tokens.
        readout: ``(D, d)`` fixed linear read-out of output tokens.
        ffn_in, ffn_out: tuples of :class:`FFNLayer` (possibly empty).
        attn: the :class:`Attention` layer.
        positional: ``(L_max, D)`` added to the embedded input rows, or ``None``.

    >>> from reference.model.transformer import Transformer
    >>> model = Transformer.random(2, rng=0, width=4)
    >>> (model.d, model.width)
    (2, 4)
    >>> model  # doctest: +NORMALIZE_WHITESPACE
    Transformer(d=2, width=4,
      ffn_in=(FFNLayer(width=4, hidden=8, dtype=float64),),
      attn=Attention(width=4, key_width=4, value_width=4, scale=0.5, dtype=float64),
      ffn_out=(FFNLayer(width=4, hidden=8, dtype=float64),),
      positional=None)
    """

    embed: np.ndarray
    readout: np.ndarray
    attn: Attention
    ffn_in: tuple[FFNLayer, ...] = ()
    ffn_out: tuple[FFNLayer, ...] = ()
    positional: np.ndarray | None = None
    metadata: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        embed = as_array("embed", self.embed, ndim=2, allow_object=True)
        d, width = embed.shape
        readout = as_array("readout", self.readout, ndim=2, allow_object=True)
        check_dim("readout", readout, 0, width, "model width (embed.shape[1])")
        check_dim("readout", readout, 1, d, "input width (embed.shape[0])")
        if not isinstance(self.attn, Attention):
            raise TypeError(f"attn: expected an Attention, got {type(self.attn).__name__}")
        if self.attn.width != width:
            raise ValueError(
                f"attn: expected model width {width} (embed.shape[1]), got {self.attn.width}"
            )
        object.__setattr__(self, "ffn_in", tuple(self.ffn_in))
        object.__setattr__(self, "ffn_out", tuple(self.ffn_out))
        for name, stack in (("ffn_in", self.ffn_in), ("ffn_out", self.ffn_out)):
            for i, layer in enumerate(stack):
                if not isinstance(layer, FFNLayer):
                    raise TypeError(
                        f"{name}[{i}]: expected an FFNLayer, got {type(layer).__name__}"
                    )
                if layer.width != width:
                    raise ValueError(
                        f"{name}[{i}]: expected model width {width}, got {layer.width}"
                    )
        arrays = {"embed": embed, "readout": readout}
        if self.positional is not None:
            pos = as_array("positional", self.positional, ndim=2, allow_object=True)
            check_dim("positional", pos, 1, width, "model width (embed.shape[1])")
            arrays["positional"] = pos
        _store(self, common_float(arrays))
        if not isinstance(self.metadata, dict):
            raise TypeError(f"metadata: expected a dict, got {type(self.metadata).__name__}")

    def __repr__(self) -> str:
        """A few lines of sizes, never the weights (``vars(model)`` has those)."""
        pos = None if self.positional is None else f"shape {self.positional.shape}"

        def stack(layers: tuple[FFNLayer, ...]) -> str:
            return "(" + "".join(f"{layer!r}," for layer in layers) + ")"

        return (
            f"Transformer(d={self.d}, width={self.width},\n"
            f"  ffn_in={stack(self.ffn_in)},\n  attn={self.attn!r},\n"
            f"  ffn_out={stack(self.ffn_out)},\n  positional={pos})"
        )

    # ------------------------------------------------------------------ sizes
    @property
    def d(self) -> int:
        """Input/output token width."""
        return int(self.embed.shape[0])

    @property
    def width(self) -> int:
        """Model width ``D`` (the prompt's row width)."""
        return int(self.embed.shape[1])

    @property
    def max_length(self) -> int | None:
        """Longest input the positional encoding covers (``None``: any length)."""
        return None if self.positional is None else int(self.positional.shape[0])

    def with_dtype(self, dtype: type | np.dtype) -> Transformer:
        """A copy with every weight cast to ``dtype`` (float32 or float64)."""
        try:  # np.dtype(None) is float64: None is refused, not read as a default
            ok = dtype is not None and np.dtype(dtype) in FLOAT_DTYPES
        except TypeError:
            ok = False
        if not ok:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}")

        def cast(a: np.ndarray) -> np.ndarray:
            return np.asarray(a, dtype=dtype)

        def cast_layer(layer: FFNLayer) -> FFNLayer:
            return FFNLayer(cast(layer.w1), cast(layer.b1), cast(layer.w2), cast(layer.b2))

        return replace(
            self,
            embed=cast(self.embed),
            readout=cast(self.readout),
            attn=Attention(
                cast(self.attn.w_q),
                cast(self.attn.w_k),
                cast(self.attn.w_v),
                cast(self.attn.w_o),
                self.attn.scale,
            ),
            ffn_in=tuple(cast_layer(layer) for layer in self.ffn_in),
            ffn_out=tuple(cast_layer(layer) for layer in self.ffn_out),
            positional=None if self.positional is None else cast(self.positional),
        )

    # ------------------------------------------------------------- constructors
    @classmethod
    def random(
        cls,
        d: int,
        *,
        rng: np.random.Generator | int,
        width: int | None = None,
        key_width: int | None = None,
        value_width: int | None = None,
        ffn_in_layers: int = 1,
        ffn_out_layers: int = 1,
        ffn_hidden: int | None = None,
        max_length: int | None = None,
        scale: float | None = None,
        weight_scale: float = 1.0,
    ) -> Transformer:
        """A random model with Gaussian weights (variance ``weight_scale² / fan_in``).

        ``width`` defaults to ``d`` (embedding = identity), key and value widths to ``width``,
        ``ffn_hidden`` to ``2·width``, ``scale`` to ``1/√key_width``. With ``max_length`` a
        random positional encoding of that many rows is added. ``rng`` is a
        ``numpy.random.Generator`` or an int seed (``numpy.random.default_rng``'s convention).

        >>> import numpy as np
        >>> from reference.model.transformer import Transformer
        >>> m = Transformer.random(3, rng=np.random.default_rng(1), width=5, max_length=4)
        >>> m.positional.shape
        (4, 5)
        """
        rng = as_rng(rng)
        size = {"maximum": MAX_ELEMENTS}
        d = positive_int("d", d, **size)
        width = d if width is None else positive_int("width", width, **size)
        if width < d:
            raise ValueError(f"width: expected an integer >= d = {d}, got {width}")
        dk = width if key_width is None else positive_int("key_width", key_width, **size)
        dv = width if value_width is None else positive_int("value_width", value_width, **size)
        hidden = 2 * width if ffn_hidden is None else positive_int("ffn_hidden", ffn_hidden, **size)
        check_elements("width", width * max(width, dk, dv, hidden), "weights per matrix")
        ffn_in_layers = positive_int("ffn_in_layers", ffn_in_layers, minimum=0, maximum=MAX_LAYERS)
        ffn_out_layers = positive_int(
            "ffn_out_layers", ffn_out_layers, minimum=0, maximum=MAX_LAYERS
        )
        layer_weights = 2 * width * hidden + hidden + width  # w1, b1, w2, b2
        total = (ffn_in_layers + ffn_out_layers) * layer_weights + width * (2 * dk + 2 * dv)
        check_elements("width", total, "weights in the whole model")
        ws = positive_float("weight_scale", weight_scale)
        scale = 1.0 / np.sqrt(dk) if scale is None else positive_float("scale", scale)

        def gauss(fan_in: int, *shape: int) -> np.ndarray:
            with np.errstate(over="ignore"):
                w = rng.standard_normal(shape) * (ws / np.sqrt(fan_in))  # shape
            if not np.all(np.isfinite(w)):
                raise NumericalOverflow(
                    f"weight_scale: Gaussian weights of scale {ws:.3g} overflow float64"
                )
            return w

        def ffn() -> FFNLayer:
            return FFNLayer(
                gauss(width, width, hidden),
                0.1 * rng.standard_normal(hidden),
                gauss(hidden, hidden, width),
                0.1 * rng.standard_normal(width),
            )

        embed = np.eye(d, width)  # (d, D): zero padding
        attn = Attention(
            gauss(width, width, dk),
            gauss(width, width, dk),
            gauss(width, width, dv),
            gauss(dv, dv, width),
            scale,
        )
        positional = None
        if max_length is not None:
            rows = positive_int("max_length", max_length, maximum=MAX_ELEMENTS)
            check_elements("max_length", rows * width, "positional entries")
            positional = 0.5 * rng.standard_normal((rows, width))
        return cls(
            embed=embed,
            readout=np.eye(width, d),
            attn=attn,
            ffn_in=tuple(ffn() for _ in range(ffn_in_layers)),
            ffn_out=tuple(ffn() for _ in range(ffn_out_layers)),
            positional=positional,
        )

    # ------------------------------------------------------------------ forward
    def embed_inputs(self, x: np.ndarray) -> np.ndarray:
        """Embedded input rows ``x embed (+ positional[:L])``: ``(..., L, D)``.

        >>> import numpy as np
        >>> from reference.model.transformer import Transformer
        >>> Transformer.random(2, rng=0, width=3).embed_inputs(np.ones((4, 2))).shape
        (4, 3)
        """
        x = as_array("x", x, ndim=range(2, 33), allow_object=True)
        check_dim("x", x, -1, self.d, "token width d (model.d)")
        if self.positional is not None and x.shape[-2] > self.positional.shape[0]:
            raise ValueError(
                f"x: sequence length L = {x.shape[-2]} exceeds the positional encoding's "
                f"{self.positional.shape[0]} rows"
            )
        return self.embed_unchecked(x)

    def embed_unchecked(self, x: np.ndarray) -> np.ndarray:
        """:meth:`embed_inputs` without checks (prompt tuning validated ``x`` already)."""
        h = x @ self.embed  # (..., L, D)
        if self.positional is not None:
            h = h + self.positional[: x.shape[-2]]
        return h

    def __call__(self, z: np.ndarray, output_rows: slice = slice(None)) -> np.ndarray:
        """``τ`` on embedded rows ``z (..., n, D)``; returns the rows ``output_rows`` in ``R^D``.

        >>> import numpy as np
        >>> from reference.model.transformer import Transformer
        >>> Transformer.random(2, rng=0, width=3)(np.zeros((4, 3)), slice(1, None)).shape
        (3, 3)
        """
        z = as_array("z", z, ndim=range(2, 33), allow_object=True)
        check_dim("z", z, -1, self.width, "model width D (model.width)")
        if z.shape[-2] == 0:
            raise ValueError(f"z: expected at least one row to attend to, got shape {z.shape}")
        if not isinstance(output_rows, slice):
            raise TypeError(f"output_rows: expected a slice, got {type(output_rows).__name__}")
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.forward_unchecked(z, output_rows)  # (..., q, D)
        if out.dtype != object and not np.all(np.isfinite(out)):
            raise NumericalOverflow(
                f"z: the forward pass overflows {out.dtype} for these finite rows (largest "
                f"|entry| {float(np.max(np.abs(z))):.3g}); rescale them"
            )
        return out

    def forward_unchecked(self, z: np.ndarray, output_rows: slice) -> np.ndarray:
        """:meth:`__call__` without checks, for callers that built ``z`` (prompt tuning)."""
        h = z
        for layer in self.ffn_in:
            h = layer(h)  # (..., n, D)
        h = self.attn(h, output_rows)  # (..., q, D)
        for layer in self.ffn_out:
            h = layer(h)
        return h
