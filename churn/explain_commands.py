"""``churn explain`` and ``churn report``: why an account is at risk, as text, JSON or a page a CSM opens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table as RichTable

from churn.app import (
    AsOfOption,
    DataOption,
    DataOrStoreOption,
    ModelUriOption,
    TrackingOption,
    UsageError,
    app,
    as_of_date,
    console,
    load_export,
    load_model,
    parse_date,
    reports_user_errors,
)
from churn.progress import Steps
from explain.formats import calendar_date, days_from_now, money, percent
from training.names import DEFAULT_MODEL_URI

PlaybookOption = Annotated[
    Path | None, typer.Option(help="Your playbook YAML: overrides the default plays (see explain/playbook.yaml).")
]


def _context(
    data: Path,
    model_uri: str,
    tracking_uri: str | None,
    playbook: Path | None,
    as_of: str | None,
    steps,
    accounts: list[str] | None = None,
):
    """Load tables, model and playbook once; every explain/report command starts here.

    ``accounts`` reads only those accounts' rows (and the export-wide facts): a command about
    one account does not load the whole book.
    """
    from explain.playbook import Playbook, PlaybookError
    from explain.reasons import Explainer

    try:
        plays = Playbook.load(playbook)
    except PlaybookError as err:
        raise UsageError(str(err)) from None
    tables = load_export(data, steps, accounts)
    bundle = load_model(model_uri, tracking_uri, steps)
    when = as_of_date(as_of, tables)
    return tables, Explainer(bundle, plays), when


@app.command("explain")
@reports_user_errors
def explain_command(
    account: Annotated[str, typer.Option(help="Account id to explain.")],
    data: DataOrStoreOption = None,
    store: Annotated[
        Path | None,
        typer.Option(
            help="Read the account from this snapshot store (written by `churn score --store`) instead of --data: "
            "its newest stored snapshot, the explanation precomputed there for this model (computed now when there "
            "is none), and what changed since the store's previous snapshot. Fast: no tables are read."
        ),
    ] = None,
    as_of: AsOfOption = None,
    compare: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Also explain what changed since this many days earlier.")
    ] = None,
    format: Annotated[
        Literal["text", "json", "html"], typer.Option("--format", help="text (terminal), json, or html (a page).")
    ] = "text",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    tracking_uri: TrackingOption = None,
    playbook: PlaybookOption = None,
) -> None:
    """Why one account is at risk: top drivers, protective factors, plays, and (--compare) what changed."""
    from explain.pages import UnknownAccountError, account_pages, explain_accounts

    if (data is None) == (store is None):
        raise UsageError(
            "give exactly one of --data DIR or --store PATH (a snapshot store from `churn score --store`)."
        )
    with Steps(console) as steps:
        if store is not None:
            page = _stored_page(store, account, model_uri, tracking_uri, playbook, as_of, compare, steps)
            explanation = page.explanation
        else:
            tables, explainer, when = _context(data, model_uri, tracking_uri, playbook, as_of, steps, [account])
            with steps.step(f"Explaining {account} as of {when.date()}"):
                try:
                    if format == "html":
                        page = account_pages(explainer, tables, [account], when, compare_days=compare)[account]
                        explanation = page.explanation
                    else:
                        explanation = explain_accounts(explainer, tables, [account], when, compare_days=compare)[0]
                except UnknownAccountError as err:
                    raise UsageError(str(err)) from None
    if format == "text":
        _print_explanation(explanation)
        return
    if format == "json":
        text = json.dumps(explanation.to_dict(), indent=2)
    else:
        from explain.report import render_account_page

        text = render_account_page(page)
    _emit(text, out)


def _stored_page(store: Path, account: str, model_uri, tracking_uri, playbook, as_of, compare, steps):
    """The account's page from the snapshot store, as the service answers ``GET /accounts/{id}``."""
    from explain.pages import UnknownAccountError
    from serving.runtime import ModelLoadError, Runtime
    from serving.store import StoreError

    if compare is not None:
        raise UsageError(
            "--compare reads the tables (--data); with --store, what changed is since the store's previous snapshot."
        )
    if not store.is_file():
        raise UsageError(f"--store {store}: no snapshot store there (write one with `churn score --store`).")
    with steps.step(f"Loading model {model_uri}"):
        try:
            runtime = Runtime.load(model_uri, str(store), playbook, tracking_uri)
        except ModelLoadError as err:
            raise UsageError(str(err)) from None
    with steps.step(f"Reading {account} from {store}"):
        try:
            page = runtime.account_page(account)
        except (UnknownAccountError, StoreError) as err:
            raise UsageError(str(err)) from None
    stored = page.explanation.as_of
    if as_of is not None and parse_date(as_of, "--as-of").date() != stored:
        raise UsageError(f"the store's newest snapshot of {account} is of {stored}; for --as-of {as_of} use --data.")
    return page


def _emit(text: str, out: Path | None) -> None:
    """Write ``text`` atomically to ``out``, or to standard output."""
    if out is None:
        typer.echo(text)
        return
    from features.io import atomic_path

    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    console.print(f"Wrote {escape(str(out))}")


def _print_explanation(e) -> None:
    band_colour = {"low": "green", "medium": "yellow", "high": "red"}.get(e.risk_band, "white")
    renewal = (
        f"renews {calendar_date(e.renewal_date)} ({days_from_now(e.days_to_renewal)})"
        if e.renewal_date
        else "no renewal date"
    )
    arr = f"ARR {money(e.arr)}" if e.arr is not None else "ARR unknown"
    header = (
        f"[bold]{escape(str(e.account_id))}[/] · {escape(str(e.segment or 'no segment'))} · {arr} · "
        f"{escape(renewal)} · as of {calendar_date(e.as_of)}\n"
        f"[bold {band_colour}]{escape(str(e.summary))}[/]\n"
        f"Renewal probability {percent(e.renewal_probability)}; churn risk of comparable accounts "
        f"({escape(e.peer_group)}): {percent(e.peer_churn_risk)}. Model {escape(str(e.model_version))}."
        + (f"\n[yellow]{escape(e.horizon_note)}[/]" if e.horizon_note else "")
    )
    console.print(Panel(header, title="Renewal risk", title_align="left"), highlight=False)
    for title, reasons in (("Risk drivers", e.risk_drivers), ("Protective factors", e.protective)):
        table = RichTable(title=title, title_justify="left", show_lines=False)
        table.add_column("points", justify="right")
        table.add_column("group")
        table.add_column("reason")
        for r in reasons:
            table.add_row(f"{r.points:+.1f}", escape(str(r.group)), escape(str(r.sentence)))
        if not reasons:
            table.add_row("", "", "none above comparable accounts")
        console.print(table, highlight=False)
    if e.change is not None:
        console.print(Panel(escape(str(e.change.summary)), title="What changed", title_align="left"), highlight=False)
    if e.plays:
        table = RichTable(title="Suggested plays", title_justify="left")
        for column in ("when", "due", "owner", "play"):
            table.add_column(column)
        for p in e.plays:
            due = f"{p.due} ({p.status})" if p.due else p.status
            when = p.timing if p.within_days is None else f"{p.timing}, within {p.within_days} days of the event"
            play = f"[bold]{escape(p.title)}[/]: {escape(p.action)}\n[dim]Because: {escape(p.because)}[/]"
            table.add_row(escape(str(when)), escape(str(due)), escape(str(p.owner)), play)
        console.print(table, highlight=False)


@app.command("report")
@reports_user_errors
def report_command(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="The .html page to write.")],
    account: Annotated[
        str | None, typer.Option(help="One account's page; without it, the portfolio page and its account pages.")
    ] = None,
    as_of: AsOfOption = None,
    horizon: Annotated[int, typer.Option(min=1, max=730, help="Portfolio: renewals within this many days.")] = 180,
    top: Annotated[
        int | None, typer.Option(min=1, help="Portfolio: only the accounts with the most ARR at risk (default all).")
    ] = None,
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    tracking_uri: TrackingOption = None,
    playbook: PlaybookOption = None,
) -> None:
    """Self-contained HTML pages for CSMs: one account's page, or the portfolio of renewals with every account's page.

    The portfolio's account pages go to a folder next to it (book.html -> book_accounts/ACCOUNT.html).
    """
    from explain.pages import UnknownAccountError, account_pages, portfolio
    from explain.report import render_account_page, render_portfolio_page

    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {out}: expected a path ending in .html")
    with Steps(console) as steps:
        tables, explainer, when = _context(data, model_uri, tracking_uri, playbook, as_of, steps)
        if account is not None:
            with steps.step(f"Building the page of {account} as of {when.date()}"):
                try:
                    page = account_pages(explainer, tables, [account], when)[account]
                except UnknownAccountError as err:
                    raise UsageError(str(err)) from None
            _emit(render_account_page(page), out)
            return
        with steps.step(f"Explaining renewals in the next {horizon} days as of {when.date()}"):
            book, pages = portfolio(explainer, tables, when, horizon_days=horizon, top=top)
        folder = out.with_name(f"{out.stem}_accounts")
        with steps.step(f"Writing {len(pages):,} account pages to {folder}/"):
            _write_pages(folder, {a: render_account_page(p) for a, p in pages.items()})
        _emit(render_portfolio_page(book, lambda a: f"{folder.name}/{_page_name(a)}"), out)
    totals = book.totals
    shown = "" if book.shows_all else f" (the {len(book.rows):,} with the most ARR at risk listed)"
    console.print(
        f"Portfolio: {totals.accounts:,} renewals in the next {book.horizon_days} days{shown}, ARR at risk "
        f"{money(totals.arr_at_risk)} of {money(totals.arr)}. Open {escape(str(out.resolve()))}"
    )


def _page_name(account_id: str) -> str:
    """A file name for an account page: the id with anything unsafe for a path replaced."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]", "_", account_id)[:150] + ".html"


def _write_pages(folder: Path, pages: dict[str, str]) -> None:
    from features.io import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    for account_id, html in pages.items():
        with atomic_path(folder / _page_name(account_id)) as tmp:
            tmp.write_text(html, encoding="utf-8")
