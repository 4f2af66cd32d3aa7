"""Progress for long commands: a spinner while a step runs, a tick and its duration when it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


class Steps:
    """Shows each step of a command as it runs; the whole run's time is printed at the end."""

    def __init__(self, console: Console):
        self.console = console
        self.started = time.perf_counter()

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.console.print(f"[dim]Done in {time.perf_counter() - self.started:.1f} s.[/]")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.console.status(f"{title}…"):
            yield
        self.console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f} s)[/]")

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]![/] {text}", soft_wrap=True)
