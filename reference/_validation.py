"""Input checks shared by the public functions of :mod:`reference`.

Every check raises ``TypeError`` (wrong type/dtype) or ``ValueError`` (wrong shape, range or
non-finite values) with a message naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import SupportsInt, cast

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_RANK = 32  # numpy's limit on array rank
MAX_INT = 2**63 - 1  # the largest size numpy can index
MAX_ELEMENTS = 2**28  # the most array entries a single allocation may ask for (2 GiB float64)


class NumericalOverflow(ValueError):
    """Finite inputs whose result does not fit the floating-point format (named argument)."""


def _rank_text(ndims: tuple[int, ...]) -> str:
    if len(ndims) > 3 and ndims == tuple(range(ndims[0], ndims[0] + len(ndims))):
        return f"rank >= {ndims[0]}"
    return f"rank {' or '.join(map(str, ndims))}"


def _check_mpf_entries(name: str, arr: np.ndarray) -> None:
    """One pass over an object array: every entry an ``mpmath.mpf``, none inf or nan."""
    import mpmath
    from mpmath.libmp import finf, fnan, fninf

    special = {finf, fninf, fnan}
    for v in arr.flat:
        if not isinstance(v, mpmath.mpf):
            raise TypeError(f"{name}: object arrays must hold mpmath.mpf values only")
        if v._mpf_ in special:
            raise ValueError(f"{name}: expected finite values, got inf or nan")


def as_array(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int],
    allow_object: bool = False,
) -> np.ndarray:
    """Return ``value`` as a finite float32/float64 (or mpmath object) array of rank ``ndim``.

    Masked arrays are refused (their hidden entries would pass unseen): fill them explicitly,
    e.g. ``x.filled(0.0)``. Nested lists must be rectangular and real.

    >>> from reference._validation import as_array
    >>> as_array("x", [[1.0, 2.0]], ndim=2).shape
    (1, 2)
    >>> as_array("x", [[1.0], [2.0, 3.0]], ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: x: expected a rectangular nested list of numbers, got a ragged one
    """
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name}: expected a plain numpy array, got a masked array; fill it explicitly "
            f"(e.g. {name}.filled(0.0)) or drop the masked entries"
        )
    if isinstance(value, np.matrix):
        raise TypeError(
            f"{name}: expected a plain numpy array, got numpy.matrix (its * and indexing differ); "
            f"convert it with np.asarray({name})"
        )
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{name}: expected a rectangular nested list of numbers, got a ragged one"
            ) from exc
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64)
    else:
        raise TypeError(f"{name}: expected a numpy array, got {type(value).__name__}")
    check_size(name, arr)
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name}: expected an array of {_rank_text(ndims)}, "
            f"got rank {arr.ndim} with shape {arr.shape}"
        )
    if arr.dtype == object:
        if not allow_object:
            raise TypeError(f"{name}: expected dtype float32 or float64, got object")
        _check_mpf_entries(name, arr)
        return arr
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name}: expected dtype float32 or float64"
            f"{' (or object of mpmath.mpf)' if allow_object else ''}, got {arr.dtype}"
        )
    check_finite(name, arr)
    return arr


def check_size(name: str, arr: np.ndarray) -> None:
    """Refuse an array of more than :data:`MAX_ELEMENTS` entries (e.g. a stride-0 broadcast
    view of 2³¹ rows, which costs no memory itself) before any work touches it.

    >>> import numpy as np
    >>> from reference._validation import check_size
    >>> check_size("x", np.broadcast_to(0.5, (2**31, 2)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: x: expected at most 268435456 entries, got shape (2147483648, 2) ...
    """
    if arr.size > MAX_ELEMENTS:
        raise ValueError(
            f"{name}: expected at most {MAX_ELEMENTS} entries, got shape {arr.shape} "
            f"({arr.size} entries)"
        )


def common_float(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checked float arrays promoted explicitly to their common dtype (float32 only when all
    are float32); a group holding an object array of ``mpmath.mpf`` is returned as it is.

    >>> import numpy as np
    >>> from reference._validation import common_float
    >>> {k: str(v.dtype) for k, v in common_float(
    ...     {"a": np.ones(2, np.float32), "b": np.ones(2)}).items()}
    {'a': 'float64', 'b': 'float64'}
    """
    if not arrays or any(arr.dtype == object for arr in arrays.values()):
        return dict(arrays)
    target = np.result_type(*arrays.values())
    return {name: arr.astype(target, copy=False) for name, arr in arrays.items()}


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise ``ValueError`` naming ``name`` unless every entry of the float array ``arr`` is
    finite (the finiteness check of :func:`as_array`, also for arrays a caller computed).

    >>> import numpy as np
    >>> from reference._validation import check_finite
    >>> check_finite("v_spread", np.array([1.0, np.inf]))
    Traceback (most recent call last):
    ...
    ValueError: v_spread: expected finite values, got 1 inf/nan entries
    """
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} inf/nan entries")


def check_qkv(
    q: object, k: object, v: object, *, allow_object: bool = False, batched: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries ``(n, d)``, keys ``(m, d)`` and values ``(m, d_v)``, ``m >= 1``; with ``batched``
    also ``(..., n, d)`` etc. whose leading (batch/head) axes broadcast together.

    >>> import numpy as np
    >>> from reference._validation import check_qkv
    >>> [a.shape for a in check_qkv(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1)))]
    [(2, 3), (4, 3), (4, 1)]
    """
    ndim = range(2, MAX_RANK + 1) if batched else 2
    q = as_array("q", q, ndim=ndim, allow_object=allow_object)
    k = as_array("k", k, ndim=ndim, allow_object=allow_object)
    v = as_array("v", v, ndim=ndim, allow_object=allow_object)
    check_qkv_shapes(q, k, v)
    if batched:
        leading = {"q": q.shape[:-2], "k": k.shape[:-2], "v": v.shape[:-2]}
        try:
            lead = np.broadcast_shapes(*leading.values())
        except ValueError as exc:
            raise ValueError(
                "q, k, v: expected leading (batch/head) axes that broadcast together, got "
                + ", ".join(f"{n} {shape}" for n, shape in leading.items())
            ) from exc
        out = math.prod(lead) * q.shape[-2] * v.shape[-1]  # entries of the (..., n, d_v) result
        if out > MAX_ELEMENTS:
            raise ValueError(
                f"q, k, v: the broadcast batch axes {lead} give a result of {out} entries "
                f"(limit {MAX_ELEMENTS})"
            )
    return q, k, v


def check_qkv_shapes(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
    """The shape checks of :func:`check_qkv` on arrays already checked by :func:`as_array`:
    key width ``q.shape[-1]``, value rows ``k.shape[-2]``, at least one key row.

    >>> import numpy as np
    >>> from reference._validation import check_qkv_shapes
    >>> check_qkv_shapes(np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 1)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: v: expected number of value rows (must equal k.shape[-2]) = 4 ..., got shape (5, 1)
    """
    check_dim("k", k, -1, q.shape[-1], "key width (must equal q.shape[-1])")
    check_dim("v", v, -2, k.shape[-2], "number of value rows (must equal k.shape[-2])")
    if k.shape[-2] == 0:
        raise ValueError("k: expected at least one key row, got 0")


def as_rng(rng: object) -> np.random.Generator:
    """A ``numpy.random.Generator``, or a non-negative int seed made into one (``default_rng``).

    >>> import numpy as np
    >>> from reference._validation import as_rng
    >>> bool(as_rng(0).integers(10) == np.random.default_rng(0).integers(10))
    True
    """
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng: expected a numpy.random.Generator or a seed >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: expected numpy.random.Generator or an int seed, got {type(rng).__name__}"
        )
    return rng


def check_rng(rng: object) -> np.random.Generator:
    """Require a ``numpy.random.Generator`` (no global random state anywhere)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_dim(name: str, arr: np.ndarray, axis: int, expected: int, what: str) -> None:
    """Raise ``ValueError`` unless ``arr.shape[axis] == expected``."""
    if arr.shape[axis] != expected:
        raise ValueError(
            f"{name}: expected {what} = {expected} (axis {axis}), got shape {arr.shape}"
        )


def positive_int(name: str, value: object, *, minimum: int = 1, maximum: int = MAX_INT) -> int:
    """Return ``value`` as int, requiring an integer ``minimum <= value <= maximum``.

    >>> from reference._validation import positive_int
    >>> positive_int("width", 10**400)
    Traceback (most recent call last):
    ...
    ValueError: width: expected an integer <= 9223372036854775807, got a 401-digit integer
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if number > maximum:
        shown = value if number < 10**30 else f"a {len(str(number))}-digit integer"
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {shown}")
    return number


def check_elements(name: str, count: int, what: str) -> None:
    """Refuse an allocation of more than :data:`MAX_ELEMENTS` entries before making it.

    >>> from reference._validation import check_elements
    >>> check_elements("length", 2**40, "prompt entries")
    Traceback (most recent call last):
    ...
    ValueError: length: 1099511627776 prompt entries would need 8192 GiB (limit 268435456 entries)
    """
    if count > MAX_ELEMENTS:
        raise ValueError(
            f"{name}: {count} {what} would need {count * 8 / 2**30:.0f} GiB "
            f"(limit {MAX_ELEMENTS} entries)"
        )


def real_float(name: str, value: object, expected: str = "a real number") -> float:
    """Return a real number (Python, numpy or ``Fraction``; not bool or complex) as float.

    Integers too large for a float raise ``ValueError`` (not ``OverflowError``).

    >>> import numpy as np
    >>> from reference._validation import real_float
    >>> real_float("scale", np.float32(0.25))
    0.25
    >>> real_float("scale", 10**400)
    Traceback (most recent call last):
    ...
    ValueError: scale: expected a real number, got 10**400 (too large for a float)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        # every numbers.Real converts to int (the ABC requires __trunc__)
        digits = len(str(abs(int(cast(SupportsInt, value))))) - 1
        raise ValueError(
            f"{name}: expected {expected}, got {'-' if value < 0 else ''}10**{digits} "
            "(too large for a float)"
        ) from None


def positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, requiring a finite number > 0 (or >= 0).

    >>> import numpy as np
    >>> from reference._validation import positive_float
    >>> positive_float("eps", np.float32(0.25))
    0.25
    """
    v = real_float(name, value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return v


def open_unit_interval(name: str, value: object) -> float:
    """Return ``value`` as float, requiring ``0 < value < 1``."""
    v = real_float(name, value, "a real number in (0, 1)")
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name}: expected a number in the open interval (0, 1), got {value}")
    return v
