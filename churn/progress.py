"""Progress for long commands: a spinner or a bar while a step runs, a tick and its duration when it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


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
        title = escape(title)  # titles name paths and accounts: data, never markup
        with self.console.status(f"{title}…"):
            yield
        self.console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f} s)[/]")

    @contextmanager
    def bar(self, title: str, total: int) -> Iterator[Callable[[int, int | None], None]]:
        """A progress bar for a step made of countable parts; yields ``update(done, total=None)``."""
        started = time.perf_counter()
        title = escape(title)
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True, disable=not self.console.is_terminal) as progress:
            task = progress.add_task(title, total=total)

            def update(done: int, new_total: int | None = None) -> None:
                progress.update(task, completed=done, total=new_total if new_total is not None else total)

            yield update
        self.console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f} s)[/]")

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]![/] {escape(text)}", soft_wrap=True)
