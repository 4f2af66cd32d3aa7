"""Reason sentences: catalog templates filled with an account's own numbers, never free text.

A template is a ``str.format`` string over the snapshot row. ``{value}`` is the feature being
explained, ``{typical}`` its median among renewing accounts in the training data, and any
other feature or snapshot column can be named (``{seats:int}``). The format spec picks the
wording of a number (see ``FORMATS``): ``{value:changed}`` says "fell 38%", ``{value:count:ticket}``
says "2 tickets". A part in square brackets is dropped when a value it names is missing, so
"Seat utilization is 22% (41 of 190 seats)" loses its parenthesis when seats are unknown
instead of saying "nan". The whole sentence switches to the feature's ``missing`` text when
the value itself is missing: missing is said as missing, never as zero.
"""

from __future__ import annotations

import contextlib
import functools
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from explain.formats import calendar_date, count, days, duration, is_missing, money, number, percent
from features.catalog import Feature

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


class MissingValueError(Exception):
    """A placeholder named a value the row does not have; the enclosing optional part is dropped."""


def changed(x: float) -> str:
    """A relative change as a verb: -0.38 -> "fell 38%", 0.12 -> "rose 12%", 0.001 -> "held steady"."""
    x = float(x)
    if abs(x) < 0.005:
        return "held steady"
    return f"{'rose' if x > 0 else 'fell'} {percent(abs(x))}"


def change(x: float) -> str:
    """A relative change as an adjective phrase: -0.38 -> "down 38%", 0.12 -> "up 12%"."""
    x = float(x)
    if abs(x) < 0.005:
        return "unchanged"
    return f"{'up' if x > 0 else 'down'} {percent(abs(x))}"


def points(x: float) -> str:
    """A change in a share, in points: -0.2 -> "fell 20 points", 0.05 -> "rose 5 points"."""
    p = 100 * float(x)
    if abs(p) < 0.5:
        return "held steady"
    return f"{'rose' if p > 0 else 'fell'} {number(abs(p))} points"


def as_date(x: object) -> str:
    """14 Feb 2027."""
    return calendar_date(x)


def signed(x: float) -> str:
    """+2, -1, 0."""
    x = float(x)
    return f"{x:+.0f}" if x == int(x) else f"{x:+.1f}"


def nps(x: float) -> str:
    """An NPS score with its class: "4 out of 10 (a detractor)"."""
    score = round(float(x))
    kind = "a detractor" if score <= 6 else "a passive" if score <= 8 else "a promoter"
    return f"{score} out of 10 ({kind})"


FORMATS: dict[str, Callable[[float], str]] = {
    "num": number,
    "int": lambda x: f"{round(float(x)):,}",
    "pct": percent,
    "change": change,
    "changed": changed,
    "points": points,
    "days": days,
    "duration": duration,
    "money": money,
    "signed": signed,
    "nps": nps,
    "date": as_date,
}

UNIT_FORMATS = {"fraction": "pct", "currency": "money", "currency per seat": "money", "days": "days", "flag": "int"}


def default_format(unit: str) -> str:
    """The format spec a bare ``{value}`` gets from the feature's unit."""
    return UNIT_FORMATS.get(unit, "num")


def format_value(value: object, spec: str) -> str:
    """One value in one format spec; dates and text pass through, missing raises ``MissingValueError``."""
    if is_missing(value):
        raise MissingValueError
    if isinstance(value, date | np.datetime64):  # datetime and pd.Timestamp are dates too
        return as_date(value)
    if isinstance(value, str):
        return value
    if spec.startswith("count:"):
        return count(float(value), spec.removeprefix("count:"))
    if spec == "":
        return number(float(value))
    try:
        return FORMATS[spec](float(value))
    except KeyError:
        raise ValueError(f"unknown format spec {spec!r}; known: count:<noun>, {', '.join(FORMATS)}") from None


@dataclass(frozen=True)
class _Field:
    name: str
    spec: str


@dataclass(frozen=True)
class _Optional:
    parts: tuple


@functools.lru_cache(maxsize=4096)
def _compile(template: str) -> tuple:
    """A template parsed once into literals, fields and optional groups (explanations render thousands)."""
    parts: list = []
    position = 0
    for match in _OPTIONAL.finditer(template):
        parts += _fields(template[position : match.start()])
        parts.append(_Optional(tuple(_fields(match.group(1)))))
        position = match.end()
    return tuple(parts + _fields(template[position:]))


def _fields(text: str) -> list:
    parts: list = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        if literal:
            parts.append(literal)
        if name is not None:
            parts.append(_Field(name, spec or ""))
    return parts


def _render(parts: tuple, lookup: Callable[[str], object], default_spec: str) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Field):
            value = lookup(part.name)
            out.append(format_value(value, part.spec or ("" if isinstance(value, str) else default_spec)))
        else:
            with contextlib.suppress(MissingValueError):  # an optional part names a missing value
                out.append(_render(part.parts, lookup, default_spec))
    return "".join(out)


def fill(template: str, row: Mapping[str, object], default_spec: str = "num") -> str:
    """Fill ``template`` from ``row``: optional ``[...]`` parts that name a missing value are dropped.

    Values are inserted after the template is parsed, so customer text in them is never read
    as a template. Raises ``MissingValueError`` when a placeholder outside brackets is missing.
    """

    def lookup(name: str) -> object:
        if name not in row:
            raise MissingValueError
        return row[name]

    return _render(_compile(template), lookup, default_spec)


def generic_template(feature: Feature) -> str:
    """For features without a template of their own (bring-your-own snapshot tables)."""
    label = feature.label or feature.description or feature.name.replace("_", " ")
    if feature.kind == "categorical":
        return f"{label.capitalize()}: {{value}}"
    return f"{label[:1].upper()}{label[1:]} is {{value}}[ (renewing accounts: {{typical}})]"


NOT_SENT_COLUMN = "_not_sent"  # per row, the features a caller did not send (POST /score): unknown, not absent


def not_sent_sentence(feature: Feature) -> str:
    """A feature the caller did not send is not provided: never worded as the absence of events."""
    label = feature.label or feature.description or feature.name.replace("_", " ")
    return f"{label[:1].upper()}{label[1:]}: not provided"


def missing_sentence(feature: Feature) -> str:
    label = feature.label or feature.description or feature.name.replace("_", " ")
    return feature.missing or f"No {label[:1].lower()}{label[1:]} on record"


def sentence(feature: Feature, row: Mapping[str, object], reference: Mapping[str, object] | None = None) -> str:
    """The reason sentence for ``feature`` on one snapshot ``row``.

    ``reference`` gives the comparison numbers from training: ``typical`` (median among renewing
    accounts) and, for categories, ``category_churn`` and ``overall_churn``. A missing value is
    said with the catalog's ``missing`` text ("No invoices due in the last 90 days": the data
    says so), unless the row lists the feature under ``NOT_SENT_COLUMN`` (a caller did not send
    it: "Failed or late invoices (90 days): not provided").
    """
    value = row.get(feature.name)
    if is_missing(value):
        not_sent = row.get(NOT_SENT_COLUMN)
        if isinstance(not_sent, tuple | list | frozenset | set) and feature.name in not_sent:
            return not_sent_sentence(feature)
        return missing_sentence(feature)
    context = _Overlay({"value": value, **_comparisons(feature, value, reference or {})}, row)
    template = feature.template or generic_template(feature)
    if feature.when_zero and not isinstance(value, str) and float(value) == 0:
        template = feature.when_zero
    try:
        text = fill(template, context, default_format(feature.unit))
    except MissingValueError:  # a required companion value is missing: fall back to the value alone
        text = fill(generic_template(feature), context, default_format(feature.unit))
    return text[:1].upper() + text[1:]


class _Overlay(Mapping):
    """The row with a few names laid over it, without copying the row for every sentence."""

    def __init__(self, top: dict[str, object], row: Mapping[str, object]):
        self.top, self.row = top, row

    def __getitem__(self, key: str) -> object:
        return self.top[key] if key in self.top else self.row[key]

    def __contains__(self, key: object) -> bool:
        return key in self.top or key in self.row

    def __iter__(self):
        return iter({**self.row, **self.top})

    def __len__(self) -> int:
        return len(set(self.row) | set(self.top))


def _comparisons(feature: Feature, value: object, reference: Mapping[str, object]) -> dict[str, object]:
    found: dict[str, object] = {}
    if "typical" in reference:
        found["typical"] = reference["typical"]
    categories = reference.get("category_churn")
    if isinstance(categories, Mapping) and str(value) in categories:
        found["category_churn"] = categories[str(value)]
        found["overall_churn"] = reference.get("overall_churn")
    return {k: v for k, v in found.items() if not is_missing(v)}


def display_value(feature: Feature, value: object) -> str:
    """The value alone, as a person reads it ("22%", "41", "$12k", "not on record")."""
    if is_missing(value):
        return "not on record"
    spec = default_format(feature.unit)
    if feature.unit == "flag":
        return "yes" if float(value) else "no"  # type: ignore[arg-type]
    return format_value(value, "" if isinstance(value, str) else spec)
