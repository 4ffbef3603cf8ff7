"""Gradient-based prompt tuning: initialisations and a seeded Adam loop with a stopping rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from reference._validation import (
    MAX_ELEMENTS,
    NumericalOverflow,
    as_array,
    as_rng,
    check_elements,
    positive_float,
    positive_int,
    real_float,
)
from reference.model.prompt_tuning import (
    _check_examples,
    _check_inputs,
    _check_prompt,
    _prompt_loss_and_grad,
    check_model,
)
from reference.model.transformer import Transformer

__all__ = [
    "TrainingResult",
    "check_betas",
    "init_prompt_from_inputs",
    "init_prompt_normal",
    "train_prompt",
]


def init_prompt_normal(
    model: Transformer, length: int, *, rng: np.random.Generator | int, std: float = 1.0
) -> np.ndarray:
    """A prompt ``(length, D)`` with i.i.d. ``N(0, std²)`` entries (``rng``: a Generator or a seed).

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.training import init_prompt_normal
    >>> m = Transformer.random(2, rng=np.random.default_rng(0), width=3)
    >>> init_prompt_normal(m, 4, rng=np.random.default_rng(1)).shape
    (4, 3)
    """
    model = check_model(model)
    length = positive_int("length", length, minimum=0, maximum=MAX_ELEMENTS)
    check_elements("length", length * model.width, "prompt entries")
    std = positive_float("std", std)
    with np.errstate(over="ignore"):
        prompt = as_rng(rng).standard_normal((length, model.width)) * std  # (length, D)
    if not np.all(np.isfinite(prompt)):
        raise NumericalOverflow(f"std: N(0, std²) entries overflow float64 for std = {std:.3g}")
    return prompt


def init_prompt_from_inputs(
    model: Transformer, length: int, xs: np.ndarray, *, rng: np.random.Generator | int
) -> np.ndarray:
    """A prompt ``(length, D)`` whose rows are embedded input tokens sampled from ``xs``.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.training import init_prompt_from_inputs
    >>> m = Transformer.random(2, rng=np.random.default_rng(0), width=3)
    >>> p = init_prompt_from_inputs(m, 2, np.ones((5, 4, 2)), rng=np.random.default_rng(1))
    >>> p.tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    """
    model = check_model(model)
    length = positive_int("length", length, minimum=0, maximum=MAX_ELEMENTS)
    check_elements("length", length * model.width, "prompt entries")
    xs = _check_inputs(model, "xs", xs)
    tokens = xs.reshape(-1, model.d) @ model.embed  # (B*L, D), no positional encoding
    idx = as_rng(rng).integers(0, tokens.shape[0], size=length)
    return tokens[idx].astype(np.float64)


def check_betas(betas: object) -> tuple[float, float]:
    """Adam's ``betas``: two real numbers in ``[0, 1)``.

    >>> import numpy as np
    >>> from reference.model.training import check_betas
    >>> check_betas((0.9, np.float32(0.5)))
    (0.9, 0.5)
    """
    try:
        b1, b2 = cast(tuple[object, object], betas)  # unpacking refuses anything but a pair
    except TypeError:
        raise TypeError(f"betas: expected a pair of numbers in [0, 1), got {betas!r}") from None
    except ValueError:
        raise ValueError(f"betas: expected a pair of numbers in [0, 1), got {betas!r}") from None
    first, second = (
        real_float(f"betas[{i}]", b, "a number in [0, 1)") for i, b in enumerate((b1, b2))
    )
    if not all(0.0 <= b < 1.0 for b in (first, second)):
        raise ValueError(f"betas: expected two numbers in [0, 1), got {betas!r}")
    return first, second


@dataclass
class TrainingResult:
    """Outcome of :func:`train_prompt`: the best prompt, its loss and the loss history."""

    prompt: np.ndarray
    loss: float
    history: list[float] = field(default_factory=list)
    steps: int = 0
    converged: bool = False
    reason: str = ""

    def __repr__(self) -> str:
        """A one-line summary (the prompt and the history can hold thousands of numbers: they
        stay in the fields, never in the repr).

        >>> import numpy as np
        >>> from reference.model.training import TrainingResult
        >>> result = TrainingResult(np.zeros((2, 3)), 0.25, [1.0, 0.5, 0.25], 3, True, "target")
        >>> result  # doctest: +ELLIPSIS
        TrainingResult(loss=0.25, steps=3, converged=True, reason='target', prompt shape (2, 3)...)
        >>> repr(result).endswith("history 3 losses 1 → 0.25)")
        True
        """
        history = (
            f"history {len(self.history)} losses {self.history[0]:.4g} → {self.history[-1]:.4g}"
            if self.history
            else "history empty"
        )
        return (
            f"TrainingResult(loss={self.loss:.6g}, steps={self.steps}, "
            f"converged={self.converged}, reason={self.reason!r}, "
            f"prompt shape {tuple(np.shape(self.prompt))}, {history})"
        )


def train_prompt(
    model: Transformer,
    prompt: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    lr: float = 0.05,
    max_steps: int = 2000,
    target_loss: float = 0.0,
    patience: int = 200,
    min_improvement: float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
) -> TrainingResult:
    """Full-batch Adam on the prompt, minimising the MSE of :func:`prompt_loss_and_grad`.

    Stops when the loss is ``<= target_loss`` (``converged=True``), when the best loss has not
    improved by a relative ``min_improvement`` for ``patience`` steps (a plateau), or after
    ``max_steps``. Deterministic: no randomness inside the loop. Returns the best prompt seen.
    The prompt is float64; ``xs``/``ys`` may be object arrays of ``mpmath.mpf`` (the loss and
    gradient are then evaluated at the current mpmath precision, the Adam step in float64).

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.training import init_prompt_normal, train_prompt
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> xs, ys = rng.random((4, 3, 2)), rng.random((4, 3, 2))
    >>> r = train_prompt(m, init_prompt_normal(m, 2, rng=rng), xs, ys, max_steps=50)
    >>> r.loss <= r.history[0]
    True
    """
    model = check_model(model)
    p = as_array("prompt", prompt, ndim=2).astype(np.float64, copy=True)
    lr = positive_float("lr", lr)
    max_steps = positive_int("max_steps", max_steps)
    target_loss = positive_float("target_loss", target_loss, allow_zero=True)
    patience = positive_int("patience", patience)
    min_improvement = positive_float("min_improvement", min_improvement, allow_zero=True)
    adam_eps = positive_float("adam_eps", adam_eps)
    b1, b2 = check_betas(betas)
    _check_prompt(model, p)  # the checks of prompt_loss_and_grad, made once for every step
    xs, ys = _check_examples(model, xs, ys)
    m1 = np.zeros_like(p)  # (Lp, D)
    m2 = np.zeros_like(p)  # (Lp, D)
    best_p, best_loss, since_best = p.copy(), np.inf, 0
    history: list[float] = []
    reason = "max_steps"
    step = 0
    for step in range(1, max_steps + 1):
        try:
            loss, grad = _prompt_loss_and_grad(model, p, xs, ys)
        except NumericalOverflow as exc:
            if step == 1:
                raise
            raise NumericalOverflow(
                f"lr: training diverged at step {step} (lr = {lr:.3g}; the prompt's largest "
                f"|entry| is {float(np.max(np.abs(p))):.3g}); use a smaller lr"
            ) from exc
        grad = np.asarray(grad, dtype=np.float64)  # mpmath targets: Adam steps in float64
        history.append(loss)
        if loss < best_loss * (1 - min_improvement):
            since_best = 0
        else:
            since_best += 1
        if loss < best_loss:
            best_p, best_loss = p.copy(), loss
        if loss <= target_loss:
            reason = "target_loss"
            break
        if since_best >= patience:
            reason = "plateau"
            break
        m1 = b1 * m1 + (1 - b1) * grad
        m2 = b2 * m2 + (1 - b2) * grad * grad
        m1_hat = m1 / (1 - b1**step)
        m2_hat = m2 / (1 - b2**step)
        with np.errstate(over="ignore", invalid="ignore"):
            p = p - lr * m1_hat / (np.sqrt(m2_hat) + adam_eps)  # (Lp, D)
        if not np.all(np.isfinite(p)):
            raise NumericalOverflow(
                f"lr: the Adam step overflowed float64 at step {step} (lr = {lr:.3g}); "
                "use a smaller lr"
            )
    return TrainingResult(
        prompt=best_p,
        loss=float(best_loss),
        history=history,
        steps=step,
        converged=bool(best_loss <= target_loss),
        reason=reason,
    )
