"""``python -m servekit`` runs the CLI."""

from servekit.cli import main

main()
