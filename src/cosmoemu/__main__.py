"""``python -m cosmoemu …`` is the ``cosmoemu`` command (useful under ``mpi4py.futures``)."""

from .cli import main

if __name__ == "__main__":
    main()
