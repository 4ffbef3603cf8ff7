"""Every bound of the suite, as one sympy expression each (symbols carry assumptions).

Each submodule exposes its expressions symbolically and as ``lambdify(..., "numpy")`` functions;
code and docs take numbers from here, never retyped. Submodules:

* :mod:`verify.bounds.efficiency` — polynomial-method attention (theory.md §5).
* :mod:`verify.bounds.universality` — the construction's resources and error (theory.md §3).
* :mod:`verify.bounds.capacity` — precision and token lower bounds (theory.md §4).
"""
