"""The ``cosmoemu`` command line.

Each sub-command lives next to the code it drives (``cosmoemu/<area>/_cli.py``) and imports its
heavy dependencies only when it runs, so ``cosmoemu --help`` is instant.
"""

from __future__ import annotations

import logging

import click

from . import __version__
from .data._cli import generate
from .emulator._cli import train, validate
from .evidence._cli import evidence
from .inference._cli import demo, sample
from .sbi._cli import sbi


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cosmoemu")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """cosmoemu: emulators, likelihoods, NUTS and evidence for cosmology, in JAX.

    \b
    generate → train → validate → sample → evidence;  `cosmoemu demo` runs a Planck posterior.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _command in (demo, generate, train, validate, sample, evidence, sbi):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
