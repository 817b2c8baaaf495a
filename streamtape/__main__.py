"""``python -m streamtape`` runs the command line."""

from __future__ import annotations

from streamtape.cli import main

if __name__ == "__main__":
    main()
