"""Pure-numpy reference of one-layer, single-head prompt tuning (see docs/code-map.md).

Public API:

* :func:`attention` — exact, stable, chunked softmax attention.
* :class:`Transformer`, :class:`Attention`, :class:`FFNLayer` — the frozen model.
* :func:`prompt_forward`, :func:`prompt_loss_and_grad` — prompt tuning forward and exact gradient.
* :func:`train_prompt`, :func:`init_prompt_normal`, :func:`init_prompt_from_inputs` — training.
* :func:`construct_universal`, :func:`construct_memorizer` — the constructive witnesses of
  theory.md §3 (a frozen model and a prompt), returning a :class:`Construction` (whose
  ``forward`` warns with :class:`BandWarning` for inputs in the boundary band).

* :func:`fast_attention`, :class:`FastAttentionResult`, :class:`FastAttentionRefused` — certified
  polynomial attention (theory.md §5, module ``reference.efficiency.polynomial``).
* :class:`PolynomialPromptCache`, :class:`ExactPromptCache`, :class:`InputBlockCache` — prompt
  caches; :func:`low_rank_key_value_grad`, :func:`fast_prompt_loss_and_grad` — low-rank gradients.

Submodules with more API (imported explicitly), in ``reference.efficiency`` (theory.md §5):
``polyfit`` (certified exp fits), ``features`` (multinomial feature map), ``planning`` (radius,
fit and cost model: ``plan``), ``certificate`` (the error bound: ``certified_output_bound``),
``polynomial`` (``fast_attention``), ``prompt_cache``, ``fast_gradient``; in ``reference.model``
(§4): ``lipschitz`` (the model's Lipschitz bound in the prompt) and ``capacity`` (gradient-based
capacity, Wang-style floor).

>>> import numpy as np
>>> from reference import fast_attention
>>> rng = np.random.default_rng(0)
>>> q, k, v = (rng.standard_normal((64, 2)) * 0.5 for _ in range(3))
>>> fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True).method
'polynomial'
"""

from reference.constructions.construction import BandWarning, Construction
from reference.constructions.memorization import construct_memorizer
from reference.constructions.universality import construct_universal
from reference.efficiency.fast_gradient import fast_prompt_loss_and_grad, low_rank_key_value_grad
from reference.efficiency.polyfit import FastAttentionRefused
from reference.efficiency.polynomial import FastAttentionResult, fast_attention
from reference.efficiency.prompt_cache import (
    ExactPromptCache,
    InputBlockCache,
    PolynomialPromptCache,
)
from reference.model.attention import attention, softmax_rows
from reference.model.prompt_tuning import prompt_forward, prompt_loss_and_grad
from reference.model.training import (
    TrainingResult,
    init_prompt_from_inputs,
    init_prompt_normal,
    train_prompt,
)
from reference.model.transformer import Attention, FFNLayer, Transformer

__all__ = [
    "Attention",
    "BandWarning",
    "Construction",
    "ExactPromptCache",
    "FFNLayer",
    "FastAttentionRefused",
    "FastAttentionResult",
    "InputBlockCache",
    "PolynomialPromptCache",
    "TrainingResult",
    "Transformer",
    "attention",
    "construct_memorizer",
    "construct_universal",
    "fast_attention",
    "fast_prompt_loss_and_grad",
    "init_prompt_from_inputs",
    "init_prompt_normal",
    "low_rank_key_value_grad",
    "prompt_forward",
    "prompt_loss_and_grad",
    "softmax_rows",
    "train_prompt",
]
