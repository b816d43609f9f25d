"""``python -m carbonshift`` runs the command line."""

from carbonshift.cli import main

main()
