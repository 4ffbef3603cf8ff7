"""The main job ``python -m verify``: ``cli`` (options, exit codes), ``runner`` (run the claims,
publish the report), ``executors`` (local pool, serial, Dask), ``interrupts`` (clean stops),
``staging`` (up-front ``--out`` checks, atomic publish), ``out_lock`` (one run per ``--out``),
``exit_codes`` and ``progress`` (docs/report.md).
"""
