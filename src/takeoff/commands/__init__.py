"""Client commands: each module defines `register(app)` adding its Typer commands; they talk HTTP only."""
