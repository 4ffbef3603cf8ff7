"""Pure-numpy reference of one-layer, single-head prompt tuning (see docs/code-map.md).

Public API:

* :func:`attention` — exact, stable, chunked softmax attention.
* :class:`Transformer`, :class:`Attention`, :class:`FFNLayer` — the frozen model.
* :func:`prompt_forward`, :func:`prompt_loss_and_grad` — prompt tuning forward and exact gradient.
* :func:`train_prompt`, :func:`init_prompt_normal`, :func:`init_prompt_from_inputs` — training.
"""

from reference.attention import attention, softmax_rows
from reference.model import Attention, FFNLayer, Transformer
from reference.prompt_tuning import prompt_forward, prompt_loss_and_grad
from reference.training import (
    TrainingResult,
    init_prompt_from_inputs,
    init_prompt_normal,
    train_prompt,
)

__all__ = [
    "Attention",
    "FFNLayer",
    "TrainingResult",
    "Transformer",
    "attention",
    "init_prompt_from_inputs",
    "init_prompt_normal",
    "prompt_forward",
    "prompt_loss_and_grad",
    "softmax_rows",
    "train_prompt",
]
