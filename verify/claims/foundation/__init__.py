"""Claim ``foundation``: the exact identities of theory.md §2 and the exact prompt gradient.

``bounds`` (the identities in sympy, tolerances), ``identities`` (the checks), ``claim`` (the
report claim), ``guide`` (its reading guide).
"""
