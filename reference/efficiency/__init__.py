"""Certified fast attention by the polynomial method, and prompt caching (theory.md §5).

``polyfit`` (certified relative-error fits of ``exp``), ``features`` (the multinomial feature
map), ``planning`` (radius, fit, rank, cost model: ``plan``), ``certificate`` (the certified
output bound and the float64 rounding term), ``polynomial`` (``fast_attention``), ``prompt_cache``
(prompt caches for inference) and ``fast_gradient`` (low-rank key/value gradients).
"""
