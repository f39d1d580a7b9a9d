"""`python -m edgesite` is the `edgesite` command."""

from .cli import main

main()
