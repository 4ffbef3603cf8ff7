"""The ``FFN_out`` decoders of the lookup transformer: ``deep`` (two layers per digit), ``wide``
(four layers, exponential width) and ``shallow`` (the paper's shape: one FFN layer on each side
of the attention).
"""
