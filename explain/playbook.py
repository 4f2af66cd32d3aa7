"""Suggested plays: a playbook file maps driver groups and conditions to actions on the renewal calendar.

The default playbook ships as ``explain/playbook.yaml`` (its header documents the format). A
team overrides it with its own file: plays with the same id replace the defaults, new ids are
added, and ``replace: true`` drops the defaults. The file is validated with pydantic so a typo
is reported with the file, the play and the field, not discovered at the first account.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from explain.records import Play, Reason
from features.catalog import DRIVER_GROUPS

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
PLAYBOOK_ENV = "CHURN_PLAYBOOK"
TIMING = re.compile(r"^T-(\d{1,3})$")


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

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        tests = [t for t in (self.below, self.above, self.equals, self.missing) if t is not None]
        if len(tests) != 1:
            raise ValueError("give exactly one of below, above, equals or missing")
        return self

    def holds(self, row: Mapping[str, object]) -> bool:
        """True when any snapshot column matching ``feature`` passes the test."""
        return any(self._test(row[n]) for n in _matching(self.feature, tuple(row)))

    def _test(self, value: object) -> bool:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
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
    """Columns a wildcard pattern names; cached because every row of a batch has the same columns."""
    return tuple(name for name in columns if fnmatch.fnmatchcase(name, pattern))


class PlayRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=80)]
    group: Literal["usage", "adoption", "support", "relationship", "commercial", "billing"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    action: Annotated[str, Field(min_length=1, max_length=2000)]
    owner: Annotated[str, Field(min_length=1, max_length=80)]
    timing: str
    when: list[Condition] = Field(default_factory=list)

    @field_validator("timing")
    @classmethod
    def _timing(cls, value: str) -> str:
        if not TIMING.match(value):
            raise ValueError("timing is days before the renewal written as T-120, T-90, T-60, T-30 or T-0")
        return value

    @property
    def days_before(self) -> int:
        return int(TIMING.match(self.timing).group(1))  # type: ignore[union-attr]

    def applies(self, group: str, row: Mapping[str, object]) -> bool:
        return self.group == group and all(condition.holds(row) for condition in self.when)


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

    @classmethod
    def load(cls, path: Path | str | None = None) -> Playbook:
        """The default playbook, overridden by ``path`` (or $CHURN_PLAYBOOK) when given."""
        default = _read(DEFAULT_PLAYBOOK)
        path = path or os.environ.get(PLAYBOOK_ENV) or None
        if path is None:
            return cls(default.plays)
        override = _read(Path(path))
        if override.replace:
            return cls(override.plays, str(path))
        replaced = {rule.id: rule for rule in override.plays}
        merged = [replaced.pop(rule.id, rule) for rule in default.plays]
        return cls(merged + list(replaced.values()), f"default + {path}")

    def groups_without_play(self) -> list[str]:
        """Driver groups no unconditional play covers (a custom playbook may leave gaps on purpose)."""
        return [g for g in DRIVER_GROUPS if not any(r.group == g and not r.when for r in self.rules)]

    def plays_for(
        self, drivers: Sequence[Reason], row: Mapping[str, object], as_of: date, renewal_date: date | None
    ) -> list[Play]:
        """One play per top risk driver (the first rule that applies), each suggested once, in driver order."""
        chosen: list[Play] = []
        for reason in drivers:
            rule = next((r for r in self.rules if r.applies(reason.group, row)), None)
            if rule is None or any(p.id == rule.id for p in chosen):
                continue
            chosen.append(_schedule(rule, reason, as_of, renewal_date))
        return chosen


def _schedule(rule: PlayRule, reason: Reason, as_of: date, renewal_date: date | None) -> Play:
    """Place a play on the calendar: due ``timing`` days before renewal, or now if that day has passed."""
    if renewal_date is None:
        due, status = None, "no renewal date"
    else:
        due = renewal_date - timedelta(days=rule.days_before)
        status = "upcoming" if due > as_of else "due now"
    return Play(
        id=rule.id,
        title=rule.title,
        action=" ".join(rule.action.split()),
        owner=rule.owner,
        group=rule.group,
        timing=rule.timing,
        due=due,
        status=status,
        because=reason.sentence,
    )


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
