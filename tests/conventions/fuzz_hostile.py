"""A second fuzz of the public API (issue 17): one hostile argument in an otherwise valid call.

Every entry point has a valid base call (``fuzz_bases.py``); a *mutation* (``fuzz_mutations.py``)
replaces ONE argument:

* equivalent forms (``same``), which must give the answer of the canonical form: a nested list,
  a Fortran-ordered, non-contiguous, read-only or stride-0 broadcast array, float32 next to
  float64 arrays (compared with the call on the float32 values in float64: mixed precision is
  computed in float64), object arrays of ``mpmath.mpf`` where documented, numpy integer/float
  scalars, an int seed for a generator;
* bad input (``bad``), which must be refused naming the argument: bool/int8/float16/complex/
  object/datetime/string arrays, one NaN or inf, masked arrays, ``np.matrix``, bool/float/str/
  None/complex for integers, NaN/inf/str/complex for floats, every other rng form (None, a seed
  sequence, a bit generator, ``RandomState``, floats, strings), targets ``f`` that raise or
  return wrong shapes or types;
* hostile but possibly valid input (``either``), which must be refused naming the argument or
  answered finitely: 0-d and 5-d arrays, zero-size axes, denormals, values near the float
  maximum, mismatched shapes, huge sizes (a stride-0 view of 2³¹ rows costs no memory; ints up
  to ``10**400``), a stride-0 batch of 2¹² copies.

Each call runs in a forked child with an address-space cap and a time limit (the parent kills
it); the child's file descriptor 2 and warnings are captured. Outcome classes
(:data:`CLASSES`): ``correct``, ``refused`` (a ValueError/TypeError naming the mutated
argument) and the failures ``wrong`` (accepted but wrong: differs from the canonical call's
answer, e.g. a list kept where an array belongs), ``bad-accepted``, ``unnamed`` (a refusal
naming no argument, or another one), ``other`` (another exception type, a crash),
``nonfinite`` (NaN/inf from finite input), ``hang``, ``valid-refused`` and ``stderr``.

``python tests/conventions/fuzz_hostile.py`` prints the table (``--only NAME`` to filter);
``tests/conventions/test_fuzz_public_api.py`` runs a seeded sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import os
import pickle
import re
import select
import signal
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conventions.fuzz_bases import BASES, Factory
from tests.conventions.fuzz_mutations import Mutation, mutations_for

CLASSES = (
    "correct",
    "refused",
    "wrong",
    "bad-accepted",
    "unnamed",
    "other",
    "nonfinite",
    "hang",
    "valid-refused",
    "stderr",
)
FAILURES = CLASSES[2:]
CALL_SECONDS = 6.0  # a call still running after this is a hang
MEMORY_CAP = 1 << 30  # bytes of address space a call may add (MemoryError, not the OOM killer)


#: the arguments documented to take object arrays of mpmath.mpf, by entry point (elsewhere
#: such arrays may be refused by name)
MPMATH_ARGUMENTS = {
    "reference.attention": {"q", "k", "v"},
    "reference.softmax_rows": {"logits"},
    "reference.prompt_forward": {"prompt", "x"},
    "Transformer().__call__": {"z"},
    "reference.prompt_loss_and_grad": {"prompt", "xs", "ys"},
    "check_prompt": {"prompt"},
    "reference.train_prompt": {"xs", "ys"},
    "Transformer().embed_inputs": {"x"},
    "check_inputs": {"x"},
}


class Case(NamedTuple):
    entry: str
    param: str
    mutation: Mutation


def cases(only: str = "") -> list[Case]:
    """Every (entry point, argument, mutation) of the fuzz, in a stable order."""
    found = []
    for entry, factory in BASES.items():
        if only not in entry:
            continue
        _, kwargs = factory()
        for param, value in kwargs.items():
            found.extend(Case(entry, param, m) for m in mutations_for(value))
    return found


# ----------------------------------------------------------------------------- one call
def _nonfinite(value: Any, depth: int = 0) -> bool:
    if depth > 5:
        return False
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and not bool(np.all(np.isfinite(value)))
    if isinstance(value, (list, tuple)):
        return any(_nonfinite(v, depth + 1) for v in value[:64])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        carrier = getattr(value, "OVERFLOW_CARRIED_BY", None)
        fields = [f.name for f in dataclasses.fields(value)]
        if carrier is not None:  # a bound saturating at inf, exact in its carrier field
            return _nonfinite(getattr(value, carrier)) or any(
                isinstance(getattr(value, f), float) and math.isnan(getattr(value, f))
                for f in fields
            )
        return any(_nonfinite(getattr(value, f), depth + 1) for f in fields)
    return False


def _close(a: Any, b: Any, single: bool = False, depth: int = 0) -> str:
    """'' when ``a`` (the mutated call's result) equals ``b`` (the canonical one), else why not;
    ``single``: no float64 array argument, so a float32 answer (float32 accuracy) is right."""
    if depth > 6:
        return ""
    if isinstance(b, np.ndarray):
        if not isinstance(a, np.ndarray) or type(a) is not type(b):
            return f"{type(a).__name__} instead of {type(b).__name__}"
        if a.shape != b.shape:
            return f"shape {a.shape} instead of {b.shape}"
        if a.dtype == object and b.dtype.kind == "f":  # mpmath answer of a float question
            a = np.asarray(a.tolist(), dtype=np.float64).reshape(a.shape)
        if b.dtype == object or b.dtype.kind in "iub":
            return "" if a.dtype == b.dtype and np.array_equal(a, b) else f"{a.dtype} values differ"
        tol = 1e-5 if single else 1e-9
        if a.dtype.kind not in "f" or (a.dtype != b.dtype and not single):
            return f"dtype {a.dtype} instead of {b.dtype}"
        scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
        err = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
        return "" if err <= tol * scale else f"differs by {err:.3g} (scale {scale:.3g})"
    if isinstance(b, (float, np.floating)) and type(a).__name__ == "mpf":
        a = float(a)
    if isinstance(b, (float, np.floating)):
        tol = 1e-5 if single else 1e-9
        ok = isinstance(a, (float, np.floating)) and abs(float(a) - float(b)) <= tol * max(
            1.0, abs(float(b))
        )
        return "" if ok else f"{a!r} instead of {b!r}"
    if isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f"{type(a).__name__} of {len(a) if hasattr(a, '__len__') else '?'} instead"
        return next(
            (why for x, y in zip(a, b, strict=True) if (why := _close(x, y, single, depth + 1))), ""
        )
    if dataclasses.is_dataclass(b) and not isinstance(b, type):
        if type(a) is not type(b):
            return f"{type(a).__name__} instead of {type(b).__name__}"
        for f in dataclasses.fields(b):
            if why := _close(getattr(a, f.name), getattr(b, f.name), single, depth + 1):
                return f"{f.name}: {why}"
        return ""
    if isinstance(b, (int, str, bool)) or b is None:
        return "" if type(a) is type(b) and a == b else f"{a!r} instead of {b!r}"
    return ""


def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\b", message) is not None


def _call(factory: Factory, param: str, value: Any) -> tuple[str, Any]:
    """``("ok", result)``, ``("refused", message)`` or ``("other", description)``."""
    fn, kwargs = factory()
    kwargs[param] = value
    _single[0] = not any(
        isinstance(v, np.ndarray) and v.dtype == np.float64 for v in kwargs.values()
    )
    try:
        return "ok", fn(**kwargs)
    except (ValueError, TypeError) as exc:
        return "refused", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # every other type is a finding
        return "other", f"{type(exc).__name__}: {str(exc)[:160]}"


_single = [False]  # the last call had no float64 array argument


def _default(fn: Callable[..., Any], param: str) -> Any:
    try:
        return inspect.signature(fn).parameters[param].default
    except (KeyError, TypeError, ValueError):
        return inspect.Parameter.empty


def judge(case: Case) -> tuple[str, str]:
    """Run one case in this process: ``(class, detail)`` (stderr is judged by :func:`run_case`)."""
    factory = BASES[case.entry]
    fn, kwargs = factory()
    base = kwargs[case.param]
    with warnings.catch_warnings():  # np.matrix warns when made: not the call's output
        warnings.simplefilter("ignore")
        actual, expected = case.mutation.make(base)
    kind = case.mutation.kind
    if case.mutation.name == "None" and _default(fn, case.param) is None:
        kind = "either"  # None is the parameter's default
    if case.param == "name":
        kind = "either"  # a label for the messages: any string
    if kind == "mpmath":  # the high-precision backend where the entry point documents it
        kind = "same" if case.param in MPMATH_ARGUMENTS.get(case.entry, ()) else "either"
    reference_result = None
    if kind == "same":
        status, reference_result = _call(factory, case.param, expected)
        if status != "ok":  # the canonical form is refused: the variant must be refused too
            kind = "either"
    status, result = _call(factory, case.param, actual)
    if status == "other":
        return "other", result
    if status == "refused":
        if kind == "same":
            return "valid-refused", result[:200]
        label = kwargs.get("name") if case.param == "x" else None  # check_inputs(name=...)
        named = _names(result, case.param) or (isinstance(label, str) and _names(result, label))
        return ("refused", "") if named else ("unnamed", result[:200])
    if kind == "bad":
        return "bad-accepted", f"returned {type(result).__name__}"
    if _nonfinite(result):
        return "nonfinite", "NaN/inf in the result"
    if kind == "same" and (why := _close(result, reference_result, _single[0])):
        return "wrong", why[:200]
    return "correct", ""


class _Alarm(BaseException):
    pass


def _child(case: Case, write_fd: int) -> None:
    """Body of the forked child: caps, captured fd 2 and warnings, one judged call."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import resource

        pages = int(Path("/proc/self/statm").read_text().split()[0])
        cap = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_CAP
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, OSError, ValueError):
        pass
    err = tempfile.TemporaryFile()
    os.dup2(err.fileno(), 2)

    def fire(signum: int, frame: Any) -> None:
        raise _Alarm

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
    from reference.constructions.construction import BandWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = judge(case)
        except _Alarm:
            outcome = ("hang", f"still running after {CALL_SECONDS} s")
        except BaseException as exc:
            outcome = ("other", f"{type(exc).__name__}: {str(exc)[:160]}")
    signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stderr.flush()
    err.seek(0)
    text = err.read().decode(errors="replace").strip()
    shown = [w for w in caught if not issubclass(w.category, BandWarning)]
    if (text or shown) and outcome[0] not in ("hang", "other"):
        outcome = ("stderr", (text or f"{shown[0].category.__name__}: {shown[0].message}")[:200])
    os.write(write_fd, pickle.dumps(outcome))


def run_case(case: Case) -> tuple[str, str]:
    """Run ``case`` in a forked, memory-capped, time-limited child; ``(class, detail)``."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            _child(case, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], CALL_SECONDS + 4)
    data = b""
    if ready:
        while chunk := os.read(read_fd, 1 << 16):
            data += chunk
    os.close(read_fd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not ready:
        return "hang", f"killed after {CALL_SECONDS + 4} s"
    if not data:
        return "other", f"child died (status {status})"
    return pickle.loads(data)


def run(selected: list[Case]) -> Iterator[tuple[Case, str, str]]:
    for case in selected:
        yield (case, *run_case(case))


def main(argv: list[str] | None = None) -> int:
    """Print the outcome table over every entry point (the issue's table)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="entry points whose name contains this")
    parser.add_argument("--show", type=int, default=4, help="failing calls shown per entry")
    args = parser.parse_args(argv)
    per_entry: dict[str, Counter] = {}
    shown: Counter = Counter()
    for case, outcome, detail in run(cases(args.only)):
        per_entry.setdefault(case.entry, Counter())[outcome] += 1
        if outcome in FAILURES and shown[case.entry] < args.show:
            shown[case.entry] += 1
            print(f"{outcome:13s} {case.entry}({case.param}: {case.mutation.name}): {detail}")
    totals: Counter = sum(per_entry.values(), Counter())
    print(f"\n{len(per_entry)} entry points, {sum(totals.values())} calls")
    print("\n| entry point | calls | " + " | ".join(CLASSES) + " |")
    print("|---|---:|" + "---:|" * len(CLASSES))
    for entry, counts in [*sorted(per_entry.items()), ("**total**", totals)]:
        cells = " | ".join(str(counts[c]) for c in CLASSES)
        print(f"| {entry} | {sum(counts.values())} | {cells} |")
    refusals = totals["refused"] + sum(totals[c] for c in ("unnamed", "valid-refused"))
    print(f"\nnamed refusals: {totals['refused']} of {refusals} refusals")
    return 1 if any(totals[c] for c in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
