"""`python -m app …`: see `python -m app --help`."""

from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
