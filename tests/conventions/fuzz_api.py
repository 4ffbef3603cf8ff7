"""Fuzzing every public entry point: the entry points, the argument zoo, one call's outcome class.

Used by ``tests/conventions/test_fuzz_public_api.py`` (Hypothesis drives the draws) and runnable on
its own for the table of the issue (``python tests/conventions/fuzz_api.py --calls 40``: calls per
entry point).

An entry point is everything ``reference`` exports, the public functions and classes (with their
public classmethods) of its submodules, public methods of a valid model, the ``def`` functions of
the claims' ``bounds`` modules and the CLI's argument parser. Arguments are drawn per parameter from
its annotation: arrays (shapes near the test model's, sometimes masked, complex, ragged, empty, with
nan/inf or entries near the float limit), numbers (numpy scalars, ``10**400``,
``5e-324``, nan, strings), models, seeds, callables. Sizes are small ints only, so no draw can
ask for gigabytes (a per-call alarm stops anything that runs too long).

Outcome classes of one call (:func:`classify`): ``accepted`` (finite output), ``rejected`` (a
``ValueError``/``TypeError`` naming an argument), and the failures ``unnamed`` (a rejection
whose message names no argument), ``other`` (any other exception), ``nonfinite`` (NaN/inf
output from finite inputs), ``accepted-bad`` (a NaN/inf, masked or complex argument accepted
without an error), ``stderr`` (anything written to file descriptor 2) and ``timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import io
import math
import os
import re
import signal
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import reference

SUBMODULES = (
    "model.attention", "model.transformer", "model.prompt_tuning", "model.training",
    "efficiency.polyfit", "efficiency.features", "efficiency.planning",
    "efficiency.certificate", "efficiency.polynomial",
    "efficiency.prompt_cache", "efficiency.fast_gradient", "constructions.lookup",
    "constructions.construction", "constructions.universality", "constructions.memorization",
    "model.capacity", "model.lipschitz", "constructions.sizes", "constructions.layout",
    "constructions.limits", "constructions.packing", "constructions.decoders.deep",
    "constructions.decoders.wide", "constructions.decoders.shallow",
    "constructions.materialise",
)  # fmt: skip
#: the claims' bound modules (sympy expressions and their numpy functions)
BOUND_MODULES = (
    "efficiency.bounds", "foundation.bounds", "universality.bounds",
    "capacity.bounds",
)  # fmt: skip
FAILURES = ("unnamed", "other", "nonfinite", "accepted-bad", "stderr", "timeout")
CALL_SECONDS = 5  # a call still running after this is a failure (item 8: hangs)
MEMORY_CAP = 2 << 30  # bytes of address space one call may add: MemoryError, not the OOM killer
MODEL = reference.Transformer.random(2, rng=np.random.default_rng(1), width=3, max_length=6)


@dataclasses.dataclass(frozen=True)
class EntryPoint:
    """A callable, its display name and the module that owns it (for the per-module table)."""

    name: str
    fn: Callable[..., Any]
    module: str
    parameters: tuple[inspect.Parameter, ...]


def _parameters(fn: Callable) -> tuple[inspect.Parameter, ...]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return ()
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return tuple(p for p in sig.parameters.values() if p.kind not in variadic)


def _is_record(cls: type) -> bool:
    """Exceptions and plain result records (dataclasses without checks): not entry points."""
    plain = dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__")
    return issubclass(cls, BaseException) or plain


def _public(module: Any) -> Iterator[tuple[str, Any]]:
    """The module's ``__all__`` when it declares one, else its non-underscore names."""
    exported = getattr(module, "__all__", None)
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if exported is not None and name not in exported:
            continue
        if inspect.isfunction(obj) and obj.__name__ != "_lambdifygenerated":
            yield name, obj
        elif inspect.isclass(obj) and not _is_record(obj):
            yield name, obj
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and isinstance(member, classmethod):
                    yield f"{name}.{attr}", getattr(obj, attr)


def entry_points() -> list[EntryPoint]:
    """Every public entry point (deduplicated by identity), in a stable order."""
    found: dict[int, EntryPoint] = {}

    def add(name: str, fn: Any, module: str) -> None:
        if id(fn) not in found and callable(fn):
            found[id(fn)] = EntryPoint(name, fn, module, _parameters(fn))

    for name in reference.__all__:
        obj = getattr(reference, name)
        if not (inspect.isclass(obj) and _is_record(obj)):
            add(f"reference.{name}", obj, getattr(obj, "__module__", "reference"))
    for sub in SUBMODULES:
        module = importlib.import_module(f"reference.{sub}")
        for name, obj in _public(module):
            add(f"reference.{sub}.{name}", obj, module.__name__)
    for method in ("embed_inputs", "with_dtype", "__call__"):
        add(f"Transformer().{method}", getattr(MODEL, method), "reference.model.transformer")
    for sub in BOUND_MODULES:
        module = importlib.import_module(f"verify.claims.{sub}")
        for name, obj in _public(module):
            if inspect.isfunction(obj):
                add(f"verify.claims.{sub}.{name}", obj, module.__name__)
    from verify.run.cli import build_parser

    parser = build_parser()
    found[id(parser)] = EntryPoint(
        "verify.run.cli.build_parser().parse_args",
        parser.parse_args,
        "verify.run.cli",
        (inspect.Parameter("args", inspect.Parameter.POSITIONAL_OR_KEYWORD),),
    )
    return sorted(found.values(), key=lambda e: e.name)


# ----------------------------------------------------------------------------- argument zoo
SPECIAL_FLOATS = [0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 1e-3, 1e3, -1.0, 5e-324, 1e-300, 1e300, 1.7e308]
BAD_SCALARS = [math.nan, math.inf, -math.inf, "x", None, True, 1j, 10**400, [1.0], np.float32(0.25),
               np.int64(3), np.float64(2.0)]  # fmt: skip
SMALL_INTS = st.integers(-2, 6)
DIMS = st.integers(0, 4)

finite_floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(-10, 10))


# shapes that fit MODEL (d = 2, width 3, 6 positions) for arguments of these names
NAMED_SHAPES = {
    "prompt": [(2, 3), (1, 3), (0, 3)], "x": [(4, 2), (2, 4, 2)], "xs": [(2, 4, 2), (4, 2)],
    "ys": [(2, 4, 2), (4, 2)], "q": [(4, 2), (2, 4, 2)], "k": [(5, 2), (2, 5, 2)],
    "v": [(5, 3), (2, 5, 3)], "z": [(6, 3), (2, 6, 3)], "logits": [(3, 4), (4,)],
}  # fmt: skip


@st.composite
def arrays(draw: st.DrawFn, name: str = "") -> Any:
    """Mostly model-shaped float arrays; sometimes every kind of malformed array."""
    kind = draw(st.sampled_from(["named", "named", "model", "model", "random", "odd"]))
    if kind == "named" and name in NAMED_SHAPES:
        shape = draw(st.sampled_from(NAMED_SHAPES[name]))
    elif kind in ("named", "model"):
        shape = draw(st.sampled_from([(4, 2), (2, 4, 2), (2, 3), (4, 3), (3,), (2,), (1, 1)]))
    else:
        shape = tuple(draw(st.lists(DIMS, min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arr = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1.0, 0.1, 10.0, 1e150, 1e300]))
    if kind == "odd":
        oddity = draw(st.sampled_from(
            ["nan", "inf", "float32", "int", "complex", "masked", "list", "ragged", "bool", "obj"]
        ))  # fmt: skip
        if oddity in ("nan", "inf") and arr.size:
            arr.flat[0] = math.nan if oddity == "nan" else math.inf
        with np.errstate(all="ignore"):  # casting 1e300 to float32/int: odd input, on purpose
            return _odd(arr, oddity)
    return arr


def _odd(arr: np.ndarray, oddity: str) -> Any:
    return {
        "float32": lambda: arr.astype(np.float32),
        "int": lambda: arr.astype(np.int64),
        "complex": lambda: arr + 1j,
        "masked": lambda: np.ma.masked_invalid(arr),
        "list": lambda: arr.tolist(),
        "ragged": lambda: [[1.0], [1.0, 2.0]],
        "bool": lambda: arr > 0,
        "obj": lambda: arr.astype(object),
    }.get(oddity, lambda: arr)()


def _annotation(param: inspect.Parameter) -> str:
    ann = param.annotation
    return ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))


def value_for(param: inspect.Parameter) -> st.SearchStrategy:
    """A strategy of values for ``param``, guided by its annotation, default and name."""
    ann, name, default = _annotation(param), param.name, param.default
    bad = st.sampled_from(BAD_SCALARS)
    if name == "args" and ann in ("", "_empty"):  # the CLI parser
        words = ["--smoke", "--thorough", "--only", "foundation", "nope", "--out", "/dev/null",
                 "--seed", "-1", "7", "--executor", "dask://x", "serial", "--workers", "0", "2",
                 "--list", "--bogus", "", "\x00"]  # fmt: skip
        return st.lists(st.sampled_from(words), max_size=5)
    if "Transformer" in ann or name == "model":
        return st.one_of(st.just(MODEL), st.just(MODEL), bad)
    if "Generator" in ann or name in ("rng", "seed"):
        generators = st.builds(np.random.default_rng, st.integers(0, 3))
        return st.one_of(st.integers(0, 3), generators, bad)
    if "Callable" in ann or name in ("target", "f", "fn", "function"):
        return st.one_of(st.just(lambda x: x), st.just(np.sin), bad)
    if "ndarray" in ann or "ArrayLike" in ann:
        return st.one_of(arrays(name), arrays(name), arrays(name), bad)
    if ann.startswith("bool") or isinstance(default, bool):
        return st.one_of(st.booleans(), bad)
    if ann.startswith("int") or (isinstance(default, int) and not isinstance(default, bool)):
        return st.one_of(SMALL_INTS, SMALL_INTS, st.sampled_from([0, 1, 2]), bad)
    if "float" in ann or isinstance(default, float):
        return st.one_of(finite_floats, finite_floats, SMALL_INTS, bad)
    if "str" in ann or isinstance(default, str):
        options = [default] if isinstance(default, str) else []
        words = ["paper", "alman-song", "practice", "auto", "chebyshev", "taylor", "exact"]
        return st.one_of(st.sampled_from(options + words), bad)
    if "tuple" in ann:
        return st.one_of(st.tuples(finite_floats, finite_floats), st.tuples(finite_floats), bad)
    return st.one_of(arrays(), finite_floats, SMALL_INTS, bad)


@st.composite
def calls(draw: st.DrawFn, entry: EntryPoint) -> dict[str, Any]:
    """Keyword arguments for one call: every required parameter, optional ones sometimes."""
    kwargs = {}
    for param in entry.parameters:
        if param.default is inspect.Parameter.empty or draw(st.integers(0, 3)) == 0:
            kwargs[param.name] = draw(value_for(param))
    return kwargs


# ----------------------------------------------------------------------------- one call
def _has_nonfinite(value: Any, depth: int = 0) -> bool:
    """True if ``value`` holds a NaN/inf float anywhere (arrays, containers, dataclasses)."""
    if depth > 4:
        return False
    if isinstance(value, np.ma.MaskedArray):
        value = value.filled(0.0)
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(value)
    if isinstance(value, (complex, np.complexfloating)):
        return not (math.isfinite(value.real) and math.isfinite(value.imag))
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and not bool(np.all(np.isfinite(value)))
    if isinstance(value, (list, tuple)):
        return any(_has_nonfinite(v, depth + 1) for v in value[:64])
    if isinstance(value, dict):
        return any(_has_nonfinite(v, depth + 1) for v in list(value.values())[:64])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        carrier = getattr(value, "OVERFLOW_CARRIED_BY", None)
        if carrier is not None:  # an upper bound saturating at inf, exact in a finite field:
            exact = getattr(value, carrier)  # that field must be finite, nothing may be NaN
            return _has_nonfinite(exact, depth + 1) or any(
                _has_nan(getattr(value, f.name)) for f in dataclasses.fields(value)
            )
        return any(
            _has_nonfinite(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        )
    return False


def _has_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _is_bad(values: list[Any]) -> bool:
    """An argument no numeric function may accept: NaN/inf anywhere, masked, complex."""
    for v in values:
        if isinstance(v, np.ma.MaskedArray) or isinstance(v, (complex, np.complexfloating)):
            return True
        if isinstance(v, np.ndarray) and v.dtype.kind == "c":
            return True
        if isinstance(v, (float, np.floating, np.ndarray, list, tuple)) and _has_nonfinite(v):
            return True
    return False


def _names_an_argument(message: str, entry: EntryPoint, kwargs: dict[str, Any]) -> bool:
    names = [p.name for p in entry.parameters] or ["args"]
    if isinstance(kwargs.get("name"), str) and kwargs["name"]:  # a label for the messages
        names.append(kwargs["name"])
    return any(re.search(rf"(?<![\w.]){re.escape(n)}\b", message) for n in names)


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _memory_cap(extra: int) -> Iterator[None]:
    """Limit this process's address space to its current size plus ``extra`` bytes (Linux), so
    a call that asks for gigabytes gets ``MemoryError`` instead of taking the machine down."""
    try:
        import resource

        pages = int(Path("/proc/self/statm").read_text().split()[0])
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = pages * os.sysconf("SC_PAGE_SIZE") + extra
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def _captured_fd2() -> Iterator[list[str]]:
    """Everything written to file descriptor 2 (C libraries, LAPACK) and to ``sys.stderr``."""
    box: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp, io.StringIO() as py:
        os.dup2(tmp.fileno(), 2)
        try:
            with contextlib.redirect_stderr(py):
                yield box
        finally:
            sys.stderr.flush() if hasattr(sys.stderr, "flush") else None
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            box.append(tmp.read().decode(errors="replace") + py.getvalue())


def classify(entry: EntryPoint, kwargs: dict[str, Any]) -> tuple[str, str]:
    """Call ``entry`` with ``kwargs``; return ``(outcome class, detail)`` (see the module doc)."""
    is_parser = entry.module == "verify.run.cli"
    detail = ""
    with _captured_fd2() as err, warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            with _alarm(CALL_SECONDS), _memory_cap(MEMORY_CAP):
                result = entry.fn(**kwargs)
            outcome = "accepted"
            if _is_bad(list(kwargs.values())):
                outcome, detail = "accepted-bad", "a NaN/inf, masked or complex argument accepted"
            elif _has_nonfinite(result):
                outcome, detail = "nonfinite", "NaN/inf output from finite input"
        except _Timeout:
            outcome, detail = "timeout", f"still running after {CALL_SECONDS} s"
        except SystemExit as exc:  # argparse: usage line + one error line, exit 2
            outcome = "rejected" if is_parser and exc.code == 2 else "other"
            detail = f"SystemExit({exc.code})"
        except (ValueError, TypeError) as exc:
            message = str(exc)
            named = _names_an_argument(message, entry, kwargs)
            outcome = "rejected" if named else "unnamed"
            detail = f"{type(exc).__name__}: {message[:200]}"
        except BaseException as exc:  # every other type is the finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome, detail = "other", f"{type(exc).__name__}: {str(exc)[:200]}"
    if err[0].strip() and not (is_parser and outcome == "rejected"):
        outcome, detail = "stderr", err[0].strip()[:200]
    return outcome, detail


def describe(kwargs: dict[str, Any]) -> str:
    """A short, reproducible-enough description of the arguments."""

    def short(v: Any) -> str:
        if v is MODEL:
            return "MODEL"
        if isinstance(v, np.ndarray):
            kind = "masked " if isinstance(v, np.ma.MaskedArray) else ""
            top = f", max|.|={np.max(np.abs(v)):.3g}" if v.size and v.dtype.kind in "fiu" else ""
            return f"{kind}array{v.shape} {v.dtype}{top}"
        text = repr(v)
        return text if len(text) < 60 else text[:57] + "..."

    return ", ".join(f"{k}={short(v)}" for k, v in kwargs.items())


# ----------------------------------------------------------------------------- runs
def fuzz_entry(
    entry: EntryPoint, examples: int, seed: int = 0, *, stop_at_failure: bool = False
) -> list[tuple[str, str, str]]:
    """``examples`` Hypothesis-drawn calls of ``entry``: ``(outcome, detail, arguments)`` each
    (with ``stop_at_failure``, no calls after the first failure: a test needs only one).

    No call raises inside Hypothesis, so nothing is shrunk: every draw is a new call.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    results: list[tuple[str, str, str]] = []

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @hseed(seed)
    @given(calls(entry))
    def run(kwargs: dict[str, Any]) -> None:
        if stop_at_failure and results and results[-1][0] in FAILURES:
            return
        outcome, detail = classify(entry, kwargs)
        results.append((outcome, detail, describe(kwargs)))

    run()
    return results


def main(argv: list[str] | None = None) -> int:
    """Print calls and outcome classes over every entry point (the issue's table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="calls per entry point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=3, help="failing calls shown per entry")
    parser.add_argument("--only", default="", help="entry points whose name contains this")
    args = parser.parse_args(argv)
    totals: Counter = Counter()
    per_entry: dict[str, Counter] = {}
    per_module: dict[str, Counter] = {}
    for entry in [e for e in entry_points() if args.only in e.name]:
        results = fuzz_entry(entry, args.calls, args.seed)
        counts = Counter(outcome for outcome, _, _ in results)
        failing = [r for r in results if r[0] in FAILURES]
        for outcome, detail, arguments in failing[: args.show]:
            print(f"{outcome:12s} {entry.name}({arguments}): {detail}")
        per_entry[entry.name] = counts
        per_module.setdefault(entry.module, Counter()).update(counts)
        totals.update(counts)
    print(f"\n{len(per_entry)} entry points, {sum(totals.values())} calls")
    for outcome in ("accepted", "rejected", *FAILURES):
        print(f"  {outcome:12s} {totals[outcome]}")
    classes = ("accepted", "rejected", *FAILURES)
    print("\n| module | calls | " + " | ".join(classes) + " |")
    print("|---|---|" + "---|" * len(classes))
    for module, counts in sorted(per_module.items()):
        cells = " | ".join(str(counts[c]) for c in classes)
        print(f"| {module} | {sum(counts.values())} | {cells} |")
    failing_entries = sorted(n for n, c in per_entry.items() if any(c[f] for f in FAILURES))
    print(f"entry points with failures ({len(failing_entries)}): {', '.join(failing_entries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
