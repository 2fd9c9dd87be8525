"""Phase 07: the `[cost]` section of an environment's settings (kept beside config/sections.py, composed the same way).

One table read by the observability stack (the budget and its alerts, the orphan report's schedule and idle window),
by `make cost` (the monthly estimate and its sleep rules, the price table's maximum age) and by the endpoint sleeper
(`endpoints_sleep`, the working hours, `sleep_schedule`, `sleep_after_idle_hours`). docs/07-cost-governance.md says why
each value is what it is.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.sections import _Settings

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DAY_RANGE = re.compile(r"^(?P<first>[A-Z]{3})(-(?P<last>[A-Z]{3}))?$")
_HOURS = re.compile(r"^(?P<start>\d{2}):(?P<start_min>\d{2})-(?P<end>\d{2}):(?P<end_min>\d{2})$")
WEEKS_PER_MONTH = 365.25 / 12 / 7  # 4.348: an average month, the unit of a budget


def working_day_set(text: str) -> tuple[str, ...]:
    """`MON-FRI`, `MON,WED`, `MON-WED,SAT` -> the days, in week order."""
    days: set[str] = set()
    for part in text.split(","):
        match = _DAY_RANGE.match(part.strip())
        if not match or match["first"] not in DAYS or (match["last"] and match["last"] not in DAYS):
            raise ValueError(f"{part!r} is not a day or a day range of {', '.join(DAYS)}")
        first, last = DAYS.index(match["first"]), DAYS.index(match["last"] or match["first"])
        if last < first:
            raise ValueError(f"{part!r}: a range runs forward in the week (MON-FRI, not FRI-MON)")
        days.update(DAYS[first : last + 1])
    return tuple(day for day in DAYS if day in days)


class CostSettings(_Settings):
    # The budget (AWS::Budgets::Budget): a monthly cost limit, alerts on actual spend at these percentages of it and
    # on the month's forecast at `forecast_alert_percent`, all to the alerts topic.
    monthly_budget_usd: float = Field(gt=0, le=1_000_000)
    actual_alert_percents: tuple[int, ...] = Field(min_length=1, max_length=5)
    forecast_alert_percent: int = Field(ge=1, le=1000)
    # Endpoint sleep (non-prod): outside working hours, and after `sleep_after_idle_hours` without invocations, the
    # stage endpoints are deleted (config, model and release record kept) and woken on demand.
    endpoints_sleep: bool
    working_days: str  # e.g. "MON-FRI"
    working_hours: str = Field(pattern=_HOURS.pattern)  # "HH:MM-HH:MM", local time in `timezone`
    timezone: str
    sleep_after_idle_hours: int = Field(ge=1, le=168)
    # The orphan report (weekly): endpoints without invocations for this many days are reported as idle.
    orphan_report_schedule: str = Field(pattern=r"^cron\([^)]+\)$")  # EventBridge Scheduler expression
    orphan_idle_days: int = Field(ge=1, le=90)
    # `make cost` refuses (and a test fails on) a price table older than this.
    price_table_max_age_days: int = Field(ge=1, le=730)

    @field_validator("actual_alert_percents")
    @classmethod
    def _percents_rise(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= percent <= 1000 for percent in value) or list(value) != sorted(set(value)):
            raise ValueError("must be distinct percentages between 1 and 1000, in rising order (e.g. [80, 100])")
        return value

    @field_validator("working_days")
    @classmethod
    def _days_are_days(cls, value: str) -> str:
        working_day_set(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as Europe/Madrid or UTC") from None
        return value

    @model_validator(mode="after")
    def _hours_are_a_day_window(self) -> CostSettings:
        start, end = self.working_window
        if not (0 <= start < end <= 24 * 60):
            raise ValueError(f"working_hours {self.working_hours!r} must be HH:MM-HH:MM with start before end")
        return self

    @property
    def working_window(self) -> tuple[int, int]:
        """(start, end) of the working day in minutes after local midnight."""
        match = _HOURS.match(self.working_hours)
        return int(match["start"]) * 60 + int(match["start_min"]), int(match["end"]) * 60 + int(match["end_min"])

    @property
    def working_hours_per_month(self) -> float:
        start, end = self.working_window
        return len(working_day_set(self.working_days)) * (end - start) / 60 * WEEKS_PER_MONTH

    @property
    def sleep_schedule(self) -> str:
        """The EventBridge Scheduler cron (in `timezone`) that puts awake endpoints to sleep: every day at the end of
        the working hours (an endpoint woken on another day falls asleep after `sleep_after_idle_hours`)."""
        _, end = self.working_window
        return f"cron({end % 60} {end // 60 % 24} * * ? *)"
