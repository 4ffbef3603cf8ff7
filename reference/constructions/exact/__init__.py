"""The exact backend (``backend="exact"``): the lookup construction's rational spec evaluated in
exact integer arithmetic with a certified softmax enclosure, each sequence a proof.

One job per module (nothing is re-exported here: import from the defining module):

* :mod:`reference.constructions.exact.rationals`: exact rationals, fixed point, constants;
* :mod:`reference.constructions.exact.model`: the exact model and its token-wise layers;
* :mod:`reference.constructions.exact.evaluate`: the exact evaluation (softmax enclosure);
* :mod:`reference.constructions.exact.backend`: the entry points on a built construction and
  on the input grid (``exact_model``, ``exact_forward``, ``verify_grid``).
"""
