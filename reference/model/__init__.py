"""The frozen model and prompt tuning on it (theory.md §1, §2, §4).

``attention`` (exact softmax attention, scale conventions), ``transformer`` (``Transformer``,
``Attention``, ``FFNLayer``), ``prompt_tuning`` (forward on ``[P; X]`` and the exact prompt
gradient), ``training`` (initialisations, the seeded Adam loop), ``lipschitz`` (the model's
Lipschitz bound in the prompt) and ``capacity`` (gradient capacity, the Wang-style floor).
"""
