"""Entry point of a sandbox process: ``python -m cosmoemu.data._child`` (see ``_sandbox``)."""

from cosmoemu.data._sandbox import _main

if __name__ == "__main__":
    _main()
