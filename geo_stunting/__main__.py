"""``python -m geo_stunting``: the command-line interface (a first run's compile starts first)."""

from geo_stunting._launch import main

if __name__ == "__main__":
    main()
