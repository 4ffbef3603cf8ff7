"""The main job ``python -m verify``: ``cli`` (options, exit codes), ``runner`` (run the claims,
publish the report), ``executors`` (local pool, serial, Dask), ``interrupts`` (clean stops),
``staging`` (atomic publish) and ``progress`` (docs/report.md).
"""
