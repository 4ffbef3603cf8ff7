"""The constructive witnesses of theory.md §3: the lookup transformer and its prompts.

Sizes and limits (``sizes``, ``limits``), the coordinate layout and exact spec (``layout``,
``spec``), cells and packed tables (``packing``), the ``FFN_out`` decoders (``decoders/``), the
dense backends (``materialiser``, ``materialise``), the exact backend (``exact/``), the builder and
its result (``lookup``, ``construction``) and the two entry points ``universality``
(``construct_universal``) and ``memorization`` (``construct_memorizer``).
"""
