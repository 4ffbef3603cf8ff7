"""``train_prompt``'s Adam against reference optimizers: a textbook Adam written here (Kingma &
Ba 2015, Algorithm 1, with ``ε`` added to ``√v̂``), the closed form of its first step, and
``torch.optim.Adam`` when torch is installed (the ``peers`` extra).

A wrong bias correction (``v̂ = v / (1 − β1^t)``: a first step 10× too large) passed every
earlier test (issue 16); each comparison here catches it (the planted test).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import reference.model.training as training
from reference import Transformer, init_prompt_normal, prompt_loss_and_grad, train_prompt
from tests.strength.planting import mutant

Problem = tuple[Transformer, np.ndarray, np.ndarray, np.ndarray]
LR, BETAS, EPS = 0.05, (0.9, 0.999), 1e-8
WRONG_CORRECTION = ("m2_hat = m2 / (1 - b2**step)", "m2_hat = m2 / (1 - b1**step)")


def problem(seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    model = Transformer.random(2, rng=rng, width=4)
    xs, ys = rng.random((3, 3, 2)), rng.random((3, 3, 2))  # (B, L, d)
    return model, init_prompt_normal(model, 2, rng=rng), xs, ys


def textbook_adam_losses(prob: Problem, steps: int) -> list[float]:
    """Losses at the prompts ``P_0 … P_{steps-1}`` of Algorithm 1 of Kingma & Ba."""
    model, p, xs, ys = prob
    m, v, losses = np.zeros_like(p), np.zeros_like(p), []
    for t in range(1, steps + 1):
        loss, g = prompt_loss_and_grad(model, p, xs, ys)
        losses.append(loss)
        m = BETAS[0] * m + (1 - BETAS[0]) * g
        v = BETAS[1] * v + (1 - BETAS[1]) * g**2
        p = p - LR * (m / (1 - BETAS[0] ** t)) / (np.sqrt(v / (1 - BETAS[1] ** t)) + EPS)
    return losses


def torch_adam_losses(prob: Problem, steps: int) -> list[float]:
    """The same loop with ``torch.optim.Adam`` updating the prompt (reference gradients)."""
    torch = pytest.importorskip("torch")
    model, p0, xs, ys = prob
    param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    opt = torch.optim.Adam([param], lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for _ in range(steps):
        loss, g = prompt_loss_and_grad(model, param.detach().numpy().copy(), xs, ys)
        losses.append(loss)
        opt.zero_grad()
        param.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return losses


def trained_losses(
    prob: Problem, steps: int, train: Callable[..., training.TrainingResult] = train_prompt
) -> list[float]:
    model, p, xs, ys = prob
    run = train(
        model, p, xs, ys, lr=LR, max_steps=steps, patience=10 * steps, betas=BETAS, adam_eps=EPS
    )
    return list(run.history)


@pytest.mark.parametrize("seed", range(3))
def test_train_prompt_follows_textbook_adam(seed: int) -> None:
    prob = problem(seed)
    np.testing.assert_allclose(trained_losses(prob, 12), textbook_adam_losses(prob, 12), rtol=1e-12)


def test_train_prompt_follows_torch_adam() -> None:
    prob = problem(1)
    np.testing.assert_allclose(trained_losses(prob, 12), torch_adam_losses(prob, 12), rtol=1e-10)


def test_first_step_is_lr_times_sign_of_the_gradient() -> None:
    """``m̂₁ = g``, ``v̂₁ = g²``: the first Adam step is ``−lr · g / (|g| + ε)``, whatever β."""
    model, p, xs, ys = problem(2)
    _, g = prompt_loss_and_grad(model, p, xs, ys)
    stepped = p - LR * g / (np.abs(g) + EPS)
    expected_second_loss, _ = prompt_loss_and_grad(model, stepped, xs, ys)
    assert trained_losses((model, p, xs, ys), 2)[1] == pytest.approx(
        expected_second_loss, rel=1e-13
    )


def test_planted_wrong_bias_correction_is_caught() -> None:
    wrong = mutant(training, *WRONG_CORRECTION).train_prompt
    prob = problem(0)
    planted = trained_losses(prob, 12, wrong)
    assert not np.allclose(planted, textbook_adam_losses(prob, 12), rtol=1e-6)
