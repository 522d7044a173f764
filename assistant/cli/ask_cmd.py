"""CLI commands (placeholder until its area lands)."""
import typer


def register(app: typer.Typer) -> None:
    pass
