"""Verification layer: sympy bounds, Hypothesis strategies and properties, the report command.

Run everything with ``python -m verify`` (see README). Three rooms, depending one way:
``run`` (the main job) → ``report`` (the report folder) → ``claims`` (one package per claim:
bounds, strategies, checks, claim) → ``reference``; ``reference`` never imports ``verify``
(``tests/conventions/test_layout.py``).
"""
