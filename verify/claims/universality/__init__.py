"""Claim ``universality``: one frozen transformer, a prompt per Lipschitz target (theory.md §3).

``bounds`` and ``decoder_bounds`` (sympy), ``targets`` and ``strategies`` (what is drawn),
``checks`` (case -> Observation), ``memorization``, ``planted`` and ``shapes`` (parts of the
claim), ``scale/`` (exact full-grid proofs, the precision law and phase transition), ``claim``,
``guide`` and ``test_properties``.
"""
