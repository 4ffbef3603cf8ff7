"""Planted bugs for tests: a module of ``reference/`` loaded again from its source with one
replacement (a mutant), so a test can show that its check catches that bug without touching the
file on disk.

>>> import reference.model.lipschitz as lipschitz
>>> from tests.strength.planting import mutant
>>> bad = mutant(lipschitz, "return np.abs(a).sum(axis=0).max()", "return np.abs(a).max()")
>>> import numpy as np
>>> a = np.array([[1.0, -2.0], [3.0, 0.5]])
>>> float(lipschitz._norm(a)), float(bad._norm(a))
(4.0, 3.0)
"""

from __future__ import annotations

import inspect
import sys
import types


def mutant(module: types.ModuleType, old: str, new: str) -> types.ModuleType:
    """A fresh copy of ``module`` whose source has its one occurrence of ``old`` replaced by
    ``new``; the original module is untouched. Raises ``ValueError`` if ``old`` does not occur
    exactly once (a planted bug must name one place)."""
    source = inspect.getsource(module)
    if source.count(old) != 1:
        raise ValueError(
            f"old: expected exactly one occurrence in {module.__name__}, "
            f"found {source.count(old)}: {old!r}"
        )
    name = f"{module.__name__}__mutant"
    copy = types.ModuleType(name)
    copy.__file__ = module.__file__
    sys.modules[name] = copy  # dataclasses look their module up while the class is built
    try:
        exec(
            compile(source.replace(old, new), f"<mutant of {module.__name__}>", "exec"),
            copy.__dict__,
        )
    finally:
        del sys.modules[name]
    return copy
