"""The mutations of the hostile fuzz (``fuzz_hostile.py``): what replaces one argument of a valid
call (``fuzz_bases.py``), by the kind of value it replaces, and what the answer must be.

``kind``: ``same`` (an equivalent form: the canonical call's answer), ``bad`` (refused naming the
argument), ``either`` (refused naming it, or a finite answer) and ``mpmath`` (``same`` where the
entry point documents object arrays of ``mpmath.mpf``, else ``either``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

HUGE_ROWS = 1 << 31  # rows of a stride-0 view: no memory, 2^31 · width entries


class Mutation(NamedTuple):
    """``make(value) -> (actual, expected)``; ``kind``: ``same``, ``bad`` or ``either``."""

    name: str
    kind: str
    make: Callable[[Any], tuple[Any, Any]]


def _m(
    name: str, kind: str, make: Callable[[Any], Any], expected: Callable[[Any], Any] | None = None
) -> Mutation:
    return Mutation(name, kind, lambda v: (make(v), (expected or (lambda w: w))(v)))


def _readonly(a: np.ndarray) -> np.ndarray:
    b = a.copy()
    b.flags.writeable = False
    return b


def _strided(a: np.ndarray) -> np.ndarray:
    return np.repeat(a, 2, axis=-1)[..., ::2]  # same values, non-contiguous


def _broadcast_rows(a: np.ndarray) -> np.ndarray:
    return (
        np.broadcast_to(a[..., :1, :], a.shape) if a.ndim >= 2 else np.broadcast_to(a[:1], a.shape)
    )


def _one(a: np.ndarray, value: float) -> np.ndarray:
    b = a.astype(np.float64, copy=True)
    if b.size:
        b.flat[b.size // 2] = value
    return b


def _mpf(a: np.ndarray) -> np.ndarray:
    import mpmath

    return np.vectorize(mpmath.mpf, otypes=[object])(a) if a.size else a.astype(object)


def _huge(a: np.ndarray) -> np.ndarray:
    return np.broadcast_to(a.flat[0] if a.size else 0.5, (HUGE_ROWS, *a.shape[1:]))


def _scaled(a: np.ndarray, top: float) -> np.ndarray:
    peak = float(np.max(np.abs(a))) if a.size else 0.0
    return a / peak * top if peak else np.full(a.shape, top)


FLOAT_ARRAY = [
    _m("list", "same", lambda a: a.tolist()),
    _m("fortran", "same", np.asfortranarray),
    _m("non-contiguous", "same", _strided),
    _m("read-only", "same", _readonly),
    _m("stride-0", "same", _broadcast_rows, lambda a: np.ascontiguousarray(_broadcast_rows(a))),
    _m(
        "float32",
        "same",
        lambda a: a.astype(np.float32),
        lambda a: a.astype(np.float32).astype(np.float64),
    ),
    _m("mpmath", "mpmath", _mpf),
    *(_m(f"dtype {t}", "bad", lambda a, t=t: a.astype(t)) for t in ("bool", "int8", "float16")),
    _m("complex", "bad", lambda a: a + 1j),
    _m("object", "bad", lambda a: a.astype(object)),
    _m("datetime", "bad", lambda a: np.zeros(a.shape, "datetime64[s]")),
    _m("strings", "bad", lambda a: a.astype(str)),
    _m("one NaN", "bad", lambda a: _one(a, math.nan)),
    _m("one inf", "bad", lambda a: _one(a, -math.inf)),
    _m("masked", "bad", lambda a: np.ma.masked_array(a)),
    _m("matrix", "bad", lambda a: np.asmatrix(a) if a.ndim == 2 else np.ma.masked_array(a)),
    _m("0-d", "either", lambda a: np.asarray(a.flat[0] if a.size else 0.5)),
    _m("5-d", "either", lambda a: a.reshape((1,) * (5 - a.ndim) + a.shape) if a.ndim < 5 else a),
    _m("zero-size axis", "either", lambda a: a[:0]),
    _m("zero-size last axis", "either", lambda a: a[..., :0]),
    _m("denormals", "either", lambda a: a * 1e-310),
    _m("near float max", "either", lambda a: _scaled(a, 1.7e308)),
    _m("mismatched shape", "either", lambda a: np.concatenate([a, a[..., :1]], axis=-1)),
    _m("huge", "either", _huge),
    _m("broadcast batch", "either", lambda a: np.broadcast_to(a, (1 << 12, *a.shape))),
]
INT_ARRAY = [
    _m("list", "same", lambda a: a.tolist()),
    _m("read-only", "same", _readonly),
    _m("int32", "same", lambda a: a.astype(np.int32)),
    _m("float", "bad", lambda a: a.astype(np.float64) + 0.5),
    _m("bool", "bad", lambda a: a.astype(bool)),
    _m("complex", "bad", lambda a: a + 1j),
    _m("mismatched shape", "either", lambda a: a[:-1]),
    _m("out of range", "either", lambda a: a + 10**6),
]
INT = [
    _m("numpy int64", "same", np.int64),
    _m("numpy int8", "same", lambda b: np.int8(min(b, 127))),
    _m("float", "bad", lambda b: b + 0.5),
    _m("integral float", "bad", float),
    _m("bool", "bad", lambda b: True),
    _m("str", "bad", str),
    _m("complex", "bad", lambda b: complex(b)),
    _m("None", "bad", lambda b: None),
    *(_m(f"int {v}", "either", lambda b, v=v: v) for v in (-1, 0, 10**6, 10**12, 2**63, 10**400)),
]
FLOAT = [
    _m("numpy float64", "same", np.float64),
    _m("numpy float32", "same", np.float32, lambda f: float(np.float32(f))),
    _m("Fraction", "same", Fraction),
    *(_m(f"float {v}", "bad", lambda f, v=v: v) for v in (math.nan, math.inf, -math.inf)),
    _m("str", "bad", str),
    _m("complex", "bad", complex),
    _m("bool", "bad", lambda f: True),
    _m("None", "bad", lambda f: None),
    _m("datetime", "bad", lambda f: np.datetime64(1, "s")),
    _m("list", "bad", lambda f: [f]),
    *(_m(f"float {v}", "either", lambda f, v=v: v) for v in (5e-324, 1e-310, 1.7e308, -0.0, 0.0)),
    _m("negated", "either", lambda f: -f),
    _m("int 10**400", "either", lambda f: 10**400),
]
RNG = [
    _m("int seed", "same", lambda g: 5, lambda g: np.random.default_rng(5)),
    _m("big seed", "same", lambda g: 2**70, lambda g: np.random.default_rng(2**70)),
    *(
        _m(name, "bad", make)
        for name, make in (
            ("None", lambda g: None),
            ("SeedSequence", lambda g: np.random.SeedSequence(0)),
            ("PCG64", lambda g: np.random.PCG64(0)),
            ("RandomState", lambda g: np.random.RandomState(0)),
            ("float", lambda g: 1.5),
            ("str", lambda g: "0"),
            ("bool", lambda g: True),
            ("negative", lambda g: -1),
            ("list", lambda g: [1, 2]),
        )
    ),
]
STR = [
    _m("numpy str", "same", np.str_),
    _m("upper", "bad", lambda s: s.upper() + "X"),
    _m("empty", "bad", lambda s: ""),
    _m("NUL", "bad", lambda s: s + "\x00"),
    _m("int", "either", lambda s: 1),
    _m("None", "bad", lambda s: None),
]


DTYPE = [
    _m("numpy dtype", "same", np.dtype),
    _m("dtype name", "same", lambda t: np.dtype(t).name),
    *(
        _m(f"dtype {t!r}", "bad", lambda t, u=t: u)
        for t in (None, np.float16, int, complex, "nope")
    ),
]
PAIR = [
    _m("list", "same", list),
    _m("array", "same", np.array, tuple),
    _m("NaN entry", "bad", lambda p: (math.nan, *p[1:])),
    _m("short", "bad", lambda p: p[:1]),
    _m("str", "bad", lambda p: "ab"),
    _m("None", "bad", lambda p: None),
]


def _raises(x: np.ndarray) -> np.ndarray:
    raise RuntimeError("the target failed")


TARGET = [
    _m("returns a list", "same", lambda f: lambda x: f(x).tolist(), lambda f: f),
    _m(
        "returns float32",
        "same",
        lambda f: lambda x: f(x).astype(np.float32),
        lambda f: lambda x: f(x).astype(np.float32).astype(np.float64),
    ),
    *(
        _m(name, "bad", lambda f, g=g: g)
        for name, g in (
            ("raises", _raises),
            ("returns None", lambda x: None),
            ("returns str", lambda x: "y"),
            ("returns complex", lambda x: x + 1j),
            ("returns NaN", lambda x: x * np.nan),
            ("wrong shape", lambda x: np.zeros((x.shape[0], x.shape[1] + 1))),
            ("returns datetime", lambda x: np.zeros(x.shape, "datetime64[s]")),
            ("returns int", lambda x: 3),
        )
    ),
    _m("returns object floats", "same", lambda f: lambda x: f(x).astype(object), lambda f: f),
    _m("not callable", "bad", lambda f: 3),
]


def mutations_for(value: Any) -> list[Mutation]:
    """The mutations that apply to a base argument ``value`` (none for models, specs, dtypes)."""
    if isinstance(value, np.random.Generator):
        return RNG
    if isinstance(value, np.ndarray):
        return (
            FLOAT_ARRAY if value.dtype.kind == "f" else INT_ARRAY if value.dtype.kind == "i" else []
        )
    if isinstance(value, bool):
        return []
    if isinstance(value, type) and issubclass(value, np.generic):
        return DTYPE
    if isinstance(value, tuple) and all(isinstance(v, float) for v in value):
        return PAIR
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if callable(value) and getattr(value, "__name__", "") == "_target":
        return TARGET
    return []
