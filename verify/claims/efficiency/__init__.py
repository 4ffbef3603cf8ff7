"""Claim ``efficiency``: certified polynomial attention, its phase transition in the radius, and
prompt caching (theory.md §5).

``bounds`` (sympy), ``strategies`` (inputs in norm regimes), ``checks`` and ``degrees`` (case ->
Observation), ``timing`` and ``sweeps`` (measurements), ``report_checks`` and ``plots`` (the
claim's results and figures), ``claim``, ``guide`` and ``test_properties``.
"""
