"""``python -m verify.derive --list | NAME [--latex]``: list, print or typeset the derivations.

Exit status: 0 when the derivation checks, 1 when a step fails (the error names it), 2 for an
unknown name (one line naming it) or bad usage.
"""

from __future__ import annotations

import argparse
import sys

from verify.derive.premises import DerivationError
from verify.derive.registry import derivation, derivation_names, summary


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    >>> from verify.derive.__main__ import main
    >>> main(["no.such"])
    unknown derivation: 'no.such' (python -m verify.derive --list lists them)
    2
    """
    parser = argparse.ArgumentParser(prog="python -m verify.derive", description=__doc__)
    parser.add_argument("name", nargs="?", help="a derivation's name (see --list)")
    parser.add_argument("--list", action="store_true", help="list every derivation, name first")
    parser.add_argument("--latex", action="store_true", help="print the derivation as LaTeX")
    args = parser.parse_args(argv)
    if args.list:
        for name in derivation_names():
            print(f"{name}  {summary(name)}")
        return 0
    if not args.name:
        parser.print_usage()
        return 2
    if args.name not in derivation_names():
        print(f"unknown derivation: {args.name!r} (python -m verify.derive --list lists them)")
        return 2
    try:
        built = derivation(args.name)
    except DerivationError as error:
        print(f"derivation failed: {error}")
        return 1
    print(built.latex() if args.latex else built.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
