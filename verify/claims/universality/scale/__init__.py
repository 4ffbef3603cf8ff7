"""Universality at scale and in finite precision (part of the ``universality`` claim).

* :mod:`~verify.claims.universality.scale.grids`: full-grid proofs of random full-entropy
  tables with the exact backend, and the same grids observed on float64 and mpmath;
* :mod:`~verify.claims.universality.scale.precision_law`: the measured precision law (bits
  needed against ``T·log2 Q``, between the capacity lower bound and the sympy prediction);
* :mod:`~verify.claims.universality.scale.transition`: the precision phase transition (float64
  exact while the table fits the significand, wrong beyond, mpmath exact there);
* :mod:`~verify.claims.universality.scale.report_checks`: the run's configs and the checks, tables,
  figure and notes of the first two, appended to the claim.
"""
