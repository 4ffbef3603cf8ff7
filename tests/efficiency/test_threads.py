"""The library's thread choice (``reference._threads``): one BLAS thread for small products, the
pool left alone for large ones, the setting restored afterwards; pinning for timed runs; exact
attention asks for the choice with the size of its largest product. No time is asserted."""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import reference._threads as threads
import reference.model.attention as attention_module
from reference import attention
from reference._threads import (
    OPENBLAS_SINGLE_THREAD_FLOPS,
    SMALL_PRODUCT_FLOPS,
    one_blas_thread_below,
    pin_threads,
    thread_counts,
)

pytestmark = pytest.mark.skipif(
    thread_counts()["blas"] is None, reason="no BLAS library that threadpoolctl can control"
)


@pytest.fixture
def two_blas_threads():
    """The BLAS pool at two threads for the test (the suite pins one), restored after."""
    with threadpool_limits(limits=2, user_api="blas"):
        if thread_counts()["blas"] != 2:
            pytest.skip("this BLAS build cannot run two threads")
        yield


def test_a_small_product_runs_on_one_thread_and_the_pool_is_restored(two_blas_threads) -> None:
    with one_blas_thread_below(SMALL_PRODUCT_FLOPS // 2):
        assert thread_counts()["blas"] == 1
    assert thread_counts()["blas"] == 2


def test_large_and_tiny_products_leave_the_pool_alone(two_blas_threads) -> None:
    for flops in (SMALL_PRODUCT_FLOPS, OPENBLAS_SINGLE_THREAD_FLOPS):
        with one_blas_thread_below(flops):
            assert thread_counts()["blas"] == 2


def test_the_pool_is_restored_when_the_block_raises(two_blas_threads) -> None:
    with pytest.raises(RuntimeError, match="inside"):
        with one_blas_thread_below(SMALL_PRODUCT_FLOPS // 2):
            raise RuntimeError("inside")
    assert thread_counts()["blas"] == 2


def test_exact_attention_asks_with_its_largest_chunk_product(monkeypatch) -> None:
    seen: list[float] = []

    @contextmanager
    def record(flops: float):
        seen.append(flops)
        yield

    monkeypatch.setattr(attention_module, "one_blas_thread_below", record)
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((16, 8)), rng.standard_normal((4112, 8)), np.ones((4112, 3))
    attention(q, k, v, scale=0.125)
    attention(q, k, v, scale=0.125, chunk_elements=4112 * 4)  # 4 query rows per chunk
    # (c, d) @ (d, m) with c = min(n, chunk // m): 2 · c · m · max(d, d_v)
    assert seen == [2 * 16 * 4112 * 8, 2 * 4 * 4112 * 8]


def test_attention_gives_the_same_result_with_any_thread_setting(two_blas_threads) -> None:
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((64, 8)) for _ in range(3))
    chosen = attention(q, k, v, scale=0.125)
    with threadpool_limits(limits=1, user_api="blas"):
        single = attention(q, k, v, scale=0.125)
    np.testing.assert_allclose(chosen, single, rtol=1e-13, atol=0)


def test_pin_threads_sets_the_pools_and_the_variables_children_read(monkeypatch) -> None:
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=2, user_api="blas"):  # restored after the test
        counts = pin_threads(1)
        assert counts["blas"] == 1
        assert all(os.environ[name] == "1" for name in threads.THREAD_ENV_VARS)
        assert counts["env"] == dict.fromkeys(threads.THREAD_ENV_VARS, "1")


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_pin_threads_refuses_a_bad_count_by_name(count) -> None:
    with pytest.raises(ValueError, match=r"count: expected an integer >= 1, got"):
        pin_threads(count)
