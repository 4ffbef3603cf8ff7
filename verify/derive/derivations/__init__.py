"""The derivations, one module per claim (``<claim>.py``; universality's in ``universality*.py``).

Each module registers its builders with :func:`verify.derive.register`; ``python -m
verify.derive --list`` imports every module here.
"""
