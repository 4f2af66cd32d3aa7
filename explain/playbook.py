"""Suggested plays: a playbook file maps driver groups and conditions to actions on the renewal calendar.

The default playbook ships as ``explain/playbook.yaml`` (its header documents the format). A
team overrides it with its own file: plays with the same id replace the defaults, new ids are
added, and ``replace: true`` drops the defaults. The file is validated with pydantic so a typo
is reported with the file, the play and the field, not discovered at the first account.

A play follows its trigger: its ``because`` states the fact that chose it (the matched
condition's own catalog sentence, the event, or the risk and the days left, and the driver's
sentence only when nothing but the driver chose it); its due date is the earlier of the
renewal date minus its timing and the triggering event plus ``event.within`` days; an event
older than ``event.max_age`` days triggers nothing. Plays are scoped to the account's touch
model by segment and ARR, and save plays by churn risk and days to renewal.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import settings
from explain.formats import days, percent
from explain.records import Play, Reason
from explain.sentences import sentence
from features.catalog import CONTEXT_FEATURES, DRIVER_GROUPS, Catalog, Feature, build_catalog

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
TIMING = re.compile(r"^T-(\d{1,3})$")
COLUMN = re.compile(r"^[A-Za-z0-9_]+$")
_NOT_A_WORD = re.compile(r"[^0-9a-z]+")
_USAGE_LEVEL = re.compile(r"usage_(.+)_mean_\d+d")
_SCOPE_HINT = "scope the play with segments, arr or days_to_renewal instead"


class PlaybookError(ValueError):
    """A playbook file that cannot be used; the message names the file and the field."""


class Condition(BaseModel):
    """One test on the snapshot: ``feature`` (wildcards allowed) below / above / equals a number, or missing."""

    model_config = ConfigDict(extra="forbid")
    feature: str
    below: float | None = None
    above: float | None = None
    equals: float | None = None
    missing: bool | None = None

    @field_validator("feature")
    @classmethod
    def _not_context(cls, value: str) -> str:
        if value in CONTEXT_FEATURES:
            raise ValueError(
                f"{value} is context (who the account is, where its contract stands), never a play's trigger; "
                + _SCOPE_HINT
            )
        return value

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        tests = [t for t in (self.below, self.above, self.equals, self.missing) if t is not None]
        if len(tests) != 1:
            raise ValueError("give exactly one of below, above, equals or missing")
        return self

    def holds(self, row: Mapping[str, object]) -> bool:
        """True when any snapshot column matching ``feature`` passes the test."""
        return self.first_match(row) is not None

    def first_match(self, row: Mapping[str, object]) -> str | None:
        """The first snapshot column matching ``feature`` that passes the test (None when none does)."""
        return next((n for n in _matching(self.feature, tuple(row)) if self._test(row[n])), None)

    def _test(self, value: object) -> bool:
        number = _float(value)
        if self.missing is not None:
            return math.isnan(number) == self.missing
        if math.isnan(number):
            return False
        if self.below is not None:
            return number < self.below
        if self.above is not None:
            return number > self.above
        return number == self.equals


@functools.lru_cache(maxsize=256)
def _matching(pattern: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Columns a wildcard pattern names, context left out; cached because every row of a batch has the same columns."""
    return tuple(name for name in columns if name not in CONTEXT_FEATURES and fnmatch.fnmatchcase(name, pattern))


class Event(BaseModel):
    """The event that triggers a play, read from a days-since clock: a deadline after it and an age limit."""

    model_config = ConfigDict(extra="forbid")
    clock: str
    within: Annotated[int, Field(ge=0, le=3650)] | None = None
    max_age: Annotated[int, Field(ge=0, le=3650)] | None = None

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not COLUMN.match(value):
            raise ValueError(
                "clock is one snapshot column, without wildcards: days since the event (e.g. days_since_nps_response)"
            )
        if value in CONTEXT_FEATURES:
            raise ValueError(f"{value} is context, not the date of an event; " + _SCOPE_HINT)
        return value

    @model_validator(mode="after")
    def _limits(self) -> Event:
        if self.within is None and self.max_age is None:
            raise ValueError("give within (days after the event it is due), max_age (days) or both")
        return self


class Range(BaseModel):
    """Inclusive bounds on one number of the account: ``min``, ``max`` or both."""

    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self

    def contains(self, value: float | None) -> bool:
        """False when the value is unknown: a scoped play is only for accounts known to be in scope."""
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class RiskRange(Range):
    @model_validator(mode="after")
    def _probability(self) -> RiskRange:
        for bound in (self.min, self.max):
            if bound is not None and not 0.0 <= bound <= 1.0:
                raise ValueError(f"risk is a churn probability from 0 to 1 (write 0.3 for 30%), not {bound:g}")
        return self


def segment_key(value: object) -> str | None:
    """A segment as the playbook compares it: "Mid-Market", "mid market" and "mid_market" are one segment."""
    if not isinstance(value, str):
        return None
    return _segment_key(value)


@functools.lru_cache(maxsize=256)
def _segment_key(value: str) -> str | None:
    return _NOT_A_WORD.sub("_", value.strip().lower()).strip("_") or None


@dataclass(frozen=True)
class _Account:
    """What scoping reads, computed once per explained account."""

    segment: str | None
    arr: float | None
    churn_risk: float | None
    days_to_renewal: float | None


@dataclass(frozen=True)
class _Match:
    columns: tuple[str, ...]  # the column that passed each `when` condition, in order
    event_age: float | None  # days since the triggering event, when the play has one


class PlayRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=80)]
    group: str | list[str]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    action: Annotated[str, Field(min_length=1, max_length=2000)]
    owner: Annotated[str, Field(min_length=1, max_length=80)]
    timing: str
    when: list[Condition] = Field(default_factory=list)
    event: Event | None = None
    segments: list[str] | None = None
    arr: Range | None = None
    risk: RiskRange | None = None
    days_to_renewal: Range | None = None

    @field_validator("group", mode="before")
    @classmethod
    def _group(cls, value: object) -> object:
        names = [value] if isinstance(value, str) else value
        known = ", ".join(DRIVER_GROUPS)
        if not isinstance(names, list) or not names:
            raise ValueError(f"group is one driver group or a list of them: {known}")
        for name in names:
            if name not in DRIVER_GROUPS:
                raise ValueError(f"unknown driver group {name!r}; use {known}")
        return value

    @field_validator("timing")
    @classmethod
    def _timing(cls, value: str) -> str:
        if not TIMING.match(value):
            raise ValueError("timing is days before the renewal written as T-120, T-90, T-60, T-30 or T-0")
        return value

    @field_validator("segments", mode="before")
    @classmethod
    def _segments(cls, value: object) -> object:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            raise ValueError("segments is a list of segment names, e.g. [smb] or [mid_market, enterprise]")
        keys = [segment_key(name) for name in names]
        if None in keys:
            raise ValueError(f"segment names are words, e.g. smb, mid_market, enterprise; got {names}")
        return keys

    @property
    def groups(self) -> tuple[str, ...]:
        return (self.group,) if isinstance(self.group, str) else tuple(self.group)

    @property
    def days_before(self) -> int:
        return int(self.timing[2:])

    @property
    def unconditional(self) -> bool:
        """Applies to every account with a driver in its group: no condition, no event, no scope."""
        scopes = (self.event, self.segments, self.arr, self.risk, self.days_to_renewal)
        return not self.when and all(scope is None for scope in scopes)

    def applies(self, group: str, row: Mapping[str, object], churn_risk: float | None = None) -> bool:
        account = _account(row, None, None, churn_risk)
        return group in self.groups and self.match(row, account) is not None

    def match(self, row: Mapping[str, object], account: _Account) -> _Match | None:
        """How the rule applies to this account (None when it does not): scope, then conditions, then event."""
        if self.segments is not None and account.segment not in self.segments:
            return None
        for scope, value in ((self.arr, account.arr), (self.risk, account.churn_risk)):
            if scope is not None and not scope.contains(value):
                return None
        if self.days_to_renewal is not None and not self.days_to_renewal.contains(account.days_to_renewal):
            return None
        columns = []
        for condition in self.when:
            column = condition.first_match(row)
            if column is None:
                return None
            columns.append(column)
        age = None
        if self.event is not None:
            age = _number(row.get(self.event.clock))
            if age is None or (self.event.max_age is not None and age > self.event.max_age):
                return None  # no such event on record, or too long ago to trigger this play
        return _Match(tuple(columns), age)


class PlaybookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    replace: bool = False
    plays: list[PlayRule]


class Playbook:
    """Plays in priority order; ``plays_for`` picks them for an account's top risk drivers."""

    def __init__(self, rules: Sequence[PlayRule], source: str = "default"):
        self.rules = list(rules)
        self.source = source
        self._by_group = {g: [r for r in self.rules if g in r.groups] for g in DRIVER_GROUPS}

    @classmethod
    def load(cls, path: Path | str | None = None) -> Playbook:
        """The default playbook, overridden by ``path`` (or $CHURN_PLAYBOOK) when given."""
        default = _read(DEFAULT_PLAYBOOK)
        path = path or settings.current().playbook
        if path is None:
            return cls(default.plays)
        override = _read(Path(path))
        if override.replace:
            return cls(override.plays, str(path))
        replaced = {rule.id: rule for rule in override.plays}
        merged = [replaced.pop(rule.id, rule) for rule in default.plays]
        return cls(merged + list(replaced.values()), f"default + {path}")

    def groups_without_play(self) -> list[str]:
        """Driver groups no unconditional, unscoped play covers (a custom playbook may leave gaps on purpose)."""
        return [g for g in DRIVER_GROUPS if not any(r.unconditional for r in self._by_group[g])]

    def plays_for(
        self,
        drivers: Sequence[Reason],
        row: Mapping[str, object],
        as_of: date,
        renewal_date: date | None,
        *,
        churn_risk: float | None = None,
        catalog: Catalog | None = None,
        reference: Mapping[str, Mapping[str, object]] | None = None,
    ) -> list[Play]:
        """One play per driver group, earliest due first (ties in driver order, no due date last).

        For each driver, strongest first, whose group has no play yet: the first rule of that
        group that applies to this account and has not been suggested already. ``catalog`` and
        ``reference`` phrase the condition that chose a play (the catalog defaults to the one the
        row's columns imply); ``churn_risk`` is the explanation's risk, for plays scoped by risk.
        """
        account = _account(row, as_of, renewal_date, churn_risk)
        words: _Words | None = None  # made once, for the first play chosen
        chosen: list[Play] = []
        answered: set[str] = set()
        for reason in drivers:
            if reason.group in answered:
                continue
            answered.add(reason.group)
            suggested = {p.id for p in chosen}
            for rule in self._by_group.get(reason.group, ()):
                if rule.id in suggested:
                    continue
                found = rule.match(row, account)
                if found is not None:
                    words = words or _Words(row, catalog, reference)
                    chosen.append(_schedule(rule, found, reason, account, as_of, renewal_date, words))
                    break
        return sorted(chosen, key=lambda p: (p.due is None, p.due or date.min))


def _account(
    row: Mapping[str, object], as_of: date | None, renewal_date: date | None, churn_risk: float | None
) -> _Account:
    if renewal_date is not None and as_of is not None:
        days_left = float((renewal_date - as_of).days)
    else:
        days_left = _number(row.get("days_to_renewal"))
    return _Account(segment_key(row.get("segment")), _number(row.get("arr")), _number(churn_risk), days_left)


def _schedule(
    rule: PlayRule,
    found: _Match,
    reason: Reason,
    account: _Account,
    as_of: date,
    renewal_date: date | None,
    words: _Words,
) -> Play:
    """Place a play on the calendar: ``timing`` days before renewal, or sooner if its event sets a deadline."""
    deadlines = []
    if renewal_date is not None:
        deadlines.append(renewal_date - timedelta(days=rule.days_before))
    event_date = within = None
    if rule.event is not None and found.event_age is not None:
        event_date = as_of - timedelta(days=round(found.event_age))
        within = rule.event.within
        if within is not None:
            deadlines.append(event_date + timedelta(days=within))
    due = min(deadlines) if deadlines else None
    if due is not None and event_date is not None:
        due = max(due, event_date)  # a play answers its event: never due before the event happened
    status = "no renewal date" if due is None else "upcoming" if due > as_of else "due now"
    because, trigger = _because(rule, found, reason, account, words)
    return Play(
        id=rule.id,
        title=rule.title,
        action=" ".join(rule.action.split()),
        owner=rule.owner,
        group=reason.group,
        timing=rule.timing,
        due=due,
        status=status,
        because=because,
        trigger=trigger,
        event_date=event_date,
        within_days=within,
    )


def _because(
    rule: PlayRule, found: _Match, reason: Reason, account: _Account, words: _Words
) -> tuple[str, tuple[str, ...]]:
    """What chose the play, in words and as column names: its conditions, else its event, else the driver."""
    columns = list(dict.fromkeys(found.columns))
    clock = [rule.event.clock] if rule.event is not None and rule.event.clock not in columns else []
    said = columns or clock  # the event is said only when no condition states the fact itself
    parts = list(dict.fromkeys(words.sentence(column, reason.group) for column in said))
    trigger = columns + clock
    if rule.risk is not None or rule.days_to_renewal is not None:
        phrase = _risk_and_date(rule, account)
        parts.append(phrase if not parts else phrase[:1].lower() + phrase[1:])
        trigger += ["churn_risk"] * (rule.risk is not None) + ["days_to_renewal"] * (rule.days_to_renewal is not None)
    if not parts:
        return reason.sentence, (reason.feature,)
    return "; ".join(parts), tuple(trigger)


def _risk_and_date(rule: PlayRule, account: _Account) -> str:
    """ "Churn risk is 62% with the renewal 30 days away"."""
    risk = f"Churn risk is {percent(account.churn_risk)}" if rule.risk is not None else ""
    if rule.days_to_renewal is None:
        return risk
    left = account.days_to_renewal or 0.0
    when = f"the renewal {days(left)} away" if left >= 0 else f"the renewal date {days(-left)} past"
    return f"{risk} with {when}" if risk else when[:1].upper() + when[1:]


class _Words:
    """Catalog sentences for the columns that chose a play, with the reference numbers the Explainer holds."""

    def __init__(self, row: Mapping[str, object], catalog: Catalog | None, reference):
        self.row = row
        self.catalog = catalog if catalog is not None else _catalog_for(tuple(row))
        self.reference = reference or {}

    def sentence(self, column: str, group: str) -> str:
        if column in self.catalog:
            feature = self.catalog[column]
        else:  # a column the catalog does not describe: said by its name
            feature = Feature(column, column.replace("_", " "), "as given", group)  # type: ignore[arg-type]
        return sentence(feature, self.row, self.reference.get(column))


@functools.lru_cache(maxsize=16)
def _catalog_for(columns: tuple[str, ...]) -> Catalog:
    """The standard catalog for the usage metrics a row's columns name (when the caller gives none)."""
    metrics = sorted({m.group(1) for c in columns if (m := _USAGE_LEVEL.fullmatch(c))})
    return build_catalog(metrics)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _number(value: object) -> float | None:
    number = _float(value)
    return number if math.isfinite(number) else None


def _read(path: Path) -> PlaybookFile:
    """Parse and validate one playbook file; every problem names the file and where in it."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlaybookError(f"{path}: playbook file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise PlaybookError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(document, dict):
        raise PlaybookError(f"{path}: expected a mapping with a `plays:` list at the top")
    try:
        parsed = PlaybookFile.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{_where(e['loc'], document)}: {e['msg']}" for e in error.errors()[:5])
        raise PlaybookError(f"{path}: {problems}") from None
    ids = [rule.id for rule in parsed.plays]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlaybookError(f"{path}: play ids must be unique; repeated: {', '.join(duplicates)}")
    return parsed


def _where(location: tuple, document: dict) -> str:
    """A pydantic error location said with the play's id: ``plays[3] (id usage-review).timing``."""
    parts: list[str] = []
    for i, key in enumerate(location):
        if isinstance(key, int):
            parts[-1] += f"[{key}]"
            if location[:i] == ("plays",):
                play = (document.get("plays") or [None])[key] if key < len(document.get("plays") or []) else None
                if isinstance(play, dict) and play.get("id"):
                    parts[-1] += f" (id {play['id']})"
        else:
            parts.append(str(key))
    return ".".join(parts) or "top level"
