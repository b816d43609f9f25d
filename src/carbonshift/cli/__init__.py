"""The ``carbonshift`` command line. Each command group lives in its own module and registers
itself on :data:`app` here."""

from __future__ import annotations

import typer

from carbonshift.cli import compare as compare_cmd
from carbonshift.cli import demo, jobs, signals
from carbonshift.cli import forecast as forecast_cmd
from carbonshift.cli import plan as plan_cmd
from carbonshift.cli import report as report_cmd
from carbonshift.cli import service as service_cmd

__all__ = ["app", "main"]

app = typer.Typer(
    name="carbonshift",
    help="Run batch work when and where the grid is cleanest, never past its deadline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
demo.register(app)
signals.register(app)
report_cmd.register(app)
plan_cmd.register(app)
service_cmd.register(app)
jobs.register(app)
forecast_cmd.register(app)
compare_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
