"""Verification layer: sympy bounds, Hypothesis strategies and properties, the report command.

Run everything with ``python -m verify`` (see README). ``verify`` may import ``reference``;
``reference`` never imports ``verify``.
"""
