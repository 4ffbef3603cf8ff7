"""Claim ``capacity``: lower bounds on prompt capacity and the constructions against them
(theory.md §4).

``bounds`` (sympy), ``packing`` and ``strategies`` (what is drawn), ``checks`` (the memorization
count, property checks), ``constructions`` (the construction sweep, planted constructions),
``wang`` (the Wang-style floor), ``gradient_capacity`` (exploratory), ``report_checks`` and
``plots`` (the claim's results and figures), ``claim``, ``guide`` and ``test_properties``.
"""
