"""``python -m geo_stunting``: the command-line interface."""

from geo_stunting.cli import main

if __name__ == "__main__":
    main()
