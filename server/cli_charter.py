"""`cercle charter ...` and `cercle audit`: the tools of legal teams."""

from __future__ import annotations

import click


@click.group()
def charter() -> None:
    """Check, show, compare and simulate usage charters."""


commands: list[click.Command] = [charter]
