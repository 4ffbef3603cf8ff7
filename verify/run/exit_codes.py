"""The exit status of ``python -m verify`` (docs/report.md, "Exit status"), in a module that imports
nothing, so the command line can name them before it loads anything heavy.

>>> from verify.run.exit_codes import EXIT_OK, EXIT_FALSIFIED, EXIT_USAGE, EXIT_CLAIM_ERROR
>>> EXIT_OK, EXIT_FALSIFIED, EXIT_USAGE, EXIT_CLAIM_ERROR
(0, 1, 2, 3)
"""

EXIT_OK = 0  # every claim verified
EXIT_FALSIFIED = 1  # some check broke its bound
EXIT_USAGE = 2  # bad option or environment: unwritable --out, full disk, unusable executor
EXIT_CLAIM_ERROR = 3  # some claim raised (nothing falsified), or the executor was lost mid-run
