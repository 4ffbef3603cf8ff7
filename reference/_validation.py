"""Input checks shared by the public functions of :mod:`reference`.

Every check raises ``TypeError`` (wrong type/dtype) or ``ValueError`` (wrong shape, range or
non-finite values) with a message naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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

    >>> from reference._validation import as_array
    >>> as_array("x", [[1.0, 2.0]], ndim=2).shape
    (1, 2)
    """
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
    else:
        raise TypeError(f"{name}: expected a numpy array, got {type(value).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name}: expected an array of rank {' or '.join(map(str, ndims))}, "
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
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} inf/nan entries")
    return arr


def check_qkv(
    q: object, k: object, v: object, *, allow_object: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries ``(n, d)``, keys ``(m, d)`` and values ``(m, d_v)``, ``m >= 1``.

    >>> import numpy as np
    >>> from reference._validation import check_qkv
    >>> [a.shape for a in check_qkv(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1)))]
    [(2, 3), (4, 3), (4, 1)]
    """
    q = as_array("q", q, ndim=2, allow_object=allow_object)
    k = as_array("k", k, ndim=2, allow_object=allow_object)
    v = as_array("v", v, ndim=2, allow_object=allow_object)
    check_dim("k", k, 1, q.shape[1], "key width (must equal q.shape[1])")
    check_dim("v", v, 0, k.shape[0], "number of value rows (must equal k.shape[0])")
    if k.shape[0] == 0:
        raise ValueError("k: expected at least one key row, got 0")
    return q, k, v


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


def positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` as int, requiring an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, requiring a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return v


def open_unit_interval(name: str, value: object) -> float:
    """Return ``value`` as float, requiring ``0 < value < 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number in (0, 1), got {type(value).__name__}")
    v = float(value)
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name}: expected a number in the open interval (0, 1), got {value}")
    return v
