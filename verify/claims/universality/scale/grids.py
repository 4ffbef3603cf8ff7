"""Full-grid proofs with the exact backend, and the same grids observed on the dense backends.

* :func:`random_digits` draws a random full-entropy digit table (every digit uniform on
  ``0..Q−1``, seeded); :func:`table_bits` is the size limit of a backend, the bits per packed
  number ``T·log2 Q`` (``T = K^{d(L−1)}``).
* :func:`scale_job` verifies a range of grid sequences of one such table with
  :func:`reference.constructions.exact.backend.verify_grid`: each sequence's digits are *proved*
  (exact arithmetic, certified softmax enclosure); :func:`scale_items` cuts every grid into
  such jobs and :func:`merge_scale_rows` sums them per config.
* :func:`dense_job` does the same on the dense backends (float64, mpmath), where a decoded digit
  is a float observation; :func:`one_sequence_verifier` times one sequence (asv).
* :func:`check_grid_rows` is the exact check over the rows of both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from reference.constructions.exact.backend import grid_ids_cells, verify_grid
from reference.constructions.exact.model import exact_lookup
from reference.constructions.lookup import construct_lookup
from reference.constructions.packing import cell_centers, context_index
from reference.constructions.sizes import band_width, contexts, log2_levels
from verify.claims.base import CheckResult


def random_digits(d: int, L: int, K: int, Q: int, seed: int) -> np.ndarray:
    """A full-entropy digit table ``(L K^d, T, d)``: every digit uniform on ``0..Q−1``.

    >>> from verify.claims.universality.scale.grids import random_digits
    >>> random_digits(1, 2, 2, 4, 0).shape
    (4, 2, 1)
    """
    shape = (L * K**d, contexts(d, L, K), d)
    return np.random.default_rng(seed).integers(0, Q, size=shape)


def table_bits(d: int, L: int, K: int, Q: int) -> int:
    """Bits per packed number, ``T·log2 Q`` (the size limit of a backend).

    >>> from verify.claims.universality.scale.grids import table_bits
    >>> table_bits(4, 3, 2, 4)
    512
    """
    return contexts(d, L, K) * log2_levels(Q)


def band_eta(d: int, L: int, K: int, Q: int) -> Fraction:
    """The band width ``η`` the random tables are built with, ``band_width(1/Q, d, L, K)``.

    >>> from verify.claims.universality.scale.grids import band_eta
    >>> band_eta(1, 2, 2, 4)
    Fraction(1, 32)
    """
    return band_width(1 / Q, d, L, K)


# --------------------------------------------------------------------------- full-grid proofs
def scale_job(item: tuple) -> dict:
    """Prove grid sequences ``start..stop`` of ``(d, L, K, Q, seed, start, stop[, corrupt])``.

    ``corrupt`` (planted): ``(row, context, channel)`` of one packed digit changed by ``+1``.
    Top-level (picklable) for the run's executor.
    """
    d, L, K, Q, seed, start, stop, *rest = item
    digits = random_digits(d, L, K, Q, seed)
    stored = digits.copy()
    if rest and rest[0] is not None:
        m, t, r = rest[0]
        stored[m, t, r] = (stored[m, t, r] + 1) % Q
    t0 = time.perf_counter()
    model = exact_lookup(stored, d=d, L=L, K=K, Q=Q, eta=band_eta(d, L, K, Q))
    built = time.perf_counter() - t0
    v = verify_grid(model, digits, np.arange(start, stop))
    return {
        "d": d,
        "L": L,
        "K": K,
        "Q": Q,
        "sequences": v.sequences,
        "verified": v.verified,
        "wrong": v.wrong,
        "undecided": v.undecided,
        "max_radius": float(v.max_radius),
        "build_s": built,
        "eval_s": v.seconds,
    }


def scale_items(configs: list[tuple[int, int, int, int]], seed: int, chunk: int) -> list[tuple]:
    """Work items covering every grid sequence of every config, ``chunk`` sequences each."""
    items = []
    for d, L, K, Q in configs:
        total = K ** (d * L)
        items += [(d, L, K, Q, seed, s, min(total, s + chunk)) for s in range(0, total, chunk)]
    return items


def merge_scale_rows(rows: list[dict]) -> list[dict]:
    """One row per config: sums over its chunks, time per sequence, bits per packed number."""
    merged: dict[tuple, dict] = {}
    for r in rows:
        key = (r["d"], r["L"], r["K"], r["Q"])
        m = merged.setdefault(
            key, {**{k: r[k] for k in ("d", "L", "K", "Q")}, "sequences": 0, "verified": 0}
        )
        m.update({k: m.get(k, 0) + r[k] for k in ("sequences", "verified", "wrong", "undecided")})
        m["eval_s"] = m.get("eval_s", 0.0) + r["eval_s"]
        m["max_radius"] = max(m.get("max_radius", 0.0), r["max_radius"])
    out = []
    for (d, L, K, Q), m in merged.items():
        m.update(
            backend="exact",
            decoder="deep",
            dL=d * L,
            grid_sequences=K ** (d * L),
            table_bits=table_bits(d, L, K, Q),
            s_per_sequence=round(m["eval_s"] / max(m["sequences"], 1), 4),
            eval_s=round(m["eval_s"], 2),
        )
        out.append(m)
    return out


def dense_job(item: tuple) -> dict:
    """``(d, L, K, Q, backend, limit, decoder, seed)``: the dense model on the first ``limit``
    grid sequences (all when ``None``) of a random table; a digit is right when the output is
    exactly its level centre ``(a + 1/2)/Q`` (a float observation, not a proof)."""
    d, L, K, Q, backend, limit, decoder, seed = item
    digits = random_digits(d, L, K, Q, seed)
    c = construct_lookup(
        digits, d=d, L=L, K=K, Q=Q, eta=band_eta(d, L, K, Q), backend=backend, decoder=decoder
    )
    total = K ** (d * L)
    ids = np.arange(total if limit is None else min(limit, total))
    cells = grid_ids_cells(ids, d, L, K)  # (S, L)
    t0 = time.perf_counter()
    out = c.forward(cell_centers(cells, d, K))  # (S, L, d)
    seconds = time.perf_counter() - t0
    expected = np.stack(
        [digits[p * K**d + cells[:, p], context_index(cells, p, K, d)] for p in range(L)], axis=1
    )  # (S, L, d)
    right = (out == (expected + 0.5) / Q).all(axis=(1, 2))
    return {
        "d": d,
        "L": L,
        "dL": d * L,
        "K": K,
        "Q": Q,
        "backend": backend,
        "decoder": decoder,
        "precision_bits": c.precision_bits,
        "table_bits": table_bits(d, L, K, Q),
        "grid_sequences": total,
        "sequences": int(ids.size),
        "verified": int(right.sum()),
        "wrong": int((~right).sum()),
        "undecided": 0,
        "eval_s": round(seconds, 2),
        "s_per_sequence": round(seconds / max(ids.size, 1), 4),
    }


def one_sequence_verifier(
    d: int, L: int, K: int, Q: int, backend: str, seed: int = 0
) -> Callable[[], None]:
    """A callable verifying one grid sequence (id ``K^{dL} // 3``) of a random table on
    ``backend`` (``"exact"``, ``"float64"`` or ``"mpmath"``); it raises if a digit is wrong.
    Building happens here, not in the call (asv times the call).

    >>> from verify.claims.universality.scale.grids import one_sequence_verifier
    >>> one_sequence_verifier(1, 2, 2, 4, "exact")()
    """
    digits = random_digits(d, L, K, Q, seed)
    ids = np.array([K ** (d * L) // 3])
    if backend == "exact":
        model = exact_lookup(digits, d=d, L=L, K=K, Q=Q, eta=band_eta(d, L, K, Q))

        def run() -> None:
            if verify_grid(model, digits, ids).verified != 1:
                raise AssertionError("exact backend: sequence not proved")

        return run
    c = construct_lookup(digits, d=d, L=L, K=K, Q=Q, eta=band_eta(d, L, K, Q), backend=backend)
    cells = grid_ids_cells(ids, d, L, K)  # (1, L)
    x = cell_centers(cells, d, K)  # (1, L, d)
    want = np.stack(
        [digits[p * K**d + cells[:, p], context_index(cells, p, K, d)] for p in range(L)], axis=1
    )  # (1, L, d)

    def run_dense() -> None:
        if not (c.forward(x) == (want + 0.5) / Q).all():
            raise AssertionError(f"{backend} backend: sequence decoded wrongly")

    return run_dense


def check_grid_rows(rows: list[dict], name: str, statement: str) -> CheckResult:
    """Exact check: every checked grid sequence decodes to its table digits (no wrong, no
    undecided); ``details`` give the largest ``d·L`` and ``T log2 Q`` per backend."""
    bad = [r for r in rows if r["wrong"] or r["undecided"] or r["verified"] != r["sequences"]]
    largest = {}
    for b in sorted({r["backend"] for r in rows}):
        mine = [r for r in rows if r["backend"] == b and not r["wrong"] and not r["undecided"]]
        if mine:
            largest[b] = {
                "dL": max(r["dL"] for r in mine),
                "table_bits": max(r["table_bits"] for r in mine),
            }
    text = "; ".join(
        f"d={r['d']} L={r['L']} K={r['K']} Q={r['Q']} {r['backend']}: {r['wrong']} wrong, "
        f"{r['undecided']} undecided of {r['sequences']}"
        for r in bad
    )
    return CheckResult(
        name,
        statement,
        "",
        sum(r["sequences"] for r in rows),
        not bad,
        None,
        text or None,
        {"largest": largest},
        kind="exact",
    )
