"""The report folder: ``writer`` (results.json, terminal summary), ``markdown`` and ``html``
(index.md, index.html), ``tables``, ``summary_figure``, ``pages`` (the reader's files and the docs
copy), ``claim_guide``, ``environment`` and ``screenshot`` (docs/report.md).
"""
