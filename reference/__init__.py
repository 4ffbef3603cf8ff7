"""Pure-numpy reference of one-layer, single-head prompt tuning (see docs/code-map.md).

Public API:

* :func:`attention` — exact, stable, chunked softmax attention.
* :class:`Transformer`, :class:`Attention`, :class:`FFNLayer` — the frozen model.
* :func:`prompt_forward`, :func:`prompt_loss_and_grad` — prompt tuning forward and exact gradient.
* :func:`train_prompt`, :func:`init_prompt_normal`, :func:`init_prompt_from_inputs` — training.
* :func:`construct_universal`, :func:`construct_memorizer` — the constructive witnesses of
  theory.md §3 (a frozen model and a prompt), returning a :class:`Construction`.

Submodules with their own API (imported explicitly, e.g. ``from reference.fast_attention import
fast_attention``): ``polyfit`` (certified exp fits), ``features`` (multinomial feature map),
``fast_attention``, ``prompt_cache``, ``fast_gradient`` (theory.md §5); ``lipschitz`` (the model's
Lipschitz bound in the prompt) and ``capacity`` (gradient-based capacity, Wang-style floor; §4).
"""

from reference.attention import attention, softmax_rows
from reference.construction import Construction
from reference.memorization import construct_memorizer
from reference.model import Attention, FFNLayer, Transformer
from reference.prompt_tuning import prompt_forward, prompt_loss_and_grad
from reference.training import (
    TrainingResult,
    init_prompt_from_inputs,
    init_prompt_normal,
    train_prompt,
)
from reference.universality import construct_universal

__all__ = [
    "Attention",
    "Construction",
    "FFNLayer",
    "TrainingResult",
    "Transformer",
    "attention",
    "construct_memorizer",
    "construct_universal",
    "init_prompt_from_inputs",
    "init_prompt_normal",
    "prompt_forward",
    "prompt_loss_and_grad",
    "softmax_rows",
    "train_prompt",
]
