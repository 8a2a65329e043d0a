"""Data behind the app's views: a history and a report turned into plain rows to draw.

Pure functions, no Streamlit: the app only draws what these return, so what a clinician sees is
tested here. Rows are frozen dataclasses; ``dataclasses.asdict`` gives a table row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from riskcalc.features import FeatureDType, schema_by_name
from riskcalc.history import Pathogen, PatientHistory, ReadFailure
from riskcalc.report._model import Counterfactual, Driver, ReportStatus
from riskcalc.report._score import (
    ERROR_COLUMNS,
    SCORE_COLUMNS,
    Reconciliation,
    Row,
    SkippedLines,
    chunked,
    score_chunk,
)

if TYPE_CHECKING:
    import pandas as pd

    from riskcalc.fhir import Source
    from riskcalc.model import RiskModel

#: Display names of pathogens, severities and record kinds (plain language).
PATHOGEN_LABELS = {p.value: p.label for p in Pathogen}

#: Timeline lanes, top to bottom.
LANES = ("Cancer", "Treatment", "Infection", "IL-6 measured", "Virus test", "Vaccination")


def completed_years(birth_date: dt.date, on: dt.date) -> int:
    """Age in completed years on a date (birthdays passed), as ages are stated clinically.

    >>> completed_years(dt.date(1968, 5, 12), dt.date(2026, 12, 7))
    58
    >>> completed_years(dt.date(1968, 5, 12), dt.date(2026, 5, 11))
    57
    """
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def record_end(history: PatientHistory, as_of: dt.date) -> dt.date:
    """The last day the record speaks for in an assessment as of ``as_of``: that date, or the
    date of death if it is earlier (charts and the awakening index stop there)."""
    if history.deceased_date is not None and history.deceased_date < as_of:
        return history.deceased_date
    return as_of


def used_episodes(history: PatientHistory, *, as_of: dt.date) -> tuple[int, ...]:
    """Indexes into ``history.infections`` of the episodes an assessment as of ``as_of`` uses:
    those with onset on or before it (later ones are not used, nor offered as what-ifs)."""
    return tuple(i for i, e in enumerate(history.infections) if e.onset <= as_of)


def header_parts(history: PatientHistory, *, as_of: dt.date) -> list[str]:
    """The patient header as short phrases: sex and age (or death and age at death), cancers,
    the at-risk start and its basis, and the infection episodes up to ``as_of``.

    The age is in completed years at ``as_of``, or at death when the patient died on or before
    it; records dated after ``as_of`` (a later death, later episodes) are not used, so not
    counted.
    """
    death = history.deceased_date
    age = (
        None
        if history.birth_date is None
        else completed_years(history.birth_date, record_end(history, as_of))
    )
    if death is not None and death <= as_of:
        at_death = "age unknown" if age is None else f"aged {age}"
        person = f"{history.sex}, died on {death.isoformat()} {at_death}"
    else:
        person = f"{history.sex}, {'age unknown' if age is None else f'{age} years'}"
    cancers = (
        ", ".join(
            f"{c.site.value} cancer"
            + (f" stage {c.stage}" if c.stage else "")
            + (f" ({c.onset.year})" if c.onset else "")
            for c in history.cancers
        )
        or "no cancer recorded"
    )
    remission = (
        f"at risk since {history.at_risk_start.isoformat()} ({history.at_risk_start_basis.value})"
        if history.at_risk_start
        else "no remission date"
    )
    used = len(used_episodes(history, as_of=as_of))
    later = len(history.infections) - used
    episodes = f"{used} infection episode(s)" + (
        f" (and {later} dated after the assessment date, not used)" if later else ""
    )
    return [person, cancers, remission, episodes]


def awakening_unavailable_reason(history: PatientHistory, *, as_of: dt.date) -> str | None:
    """Why there is no awakening index for this patient at ``as_of``, or None if there is one.

    The index follows dormant cancer cells from the at-risk start (remission): without one (no
    cancer, no remission date) or before it there is nothing to show. After death the index
    stops at the date of death (:func:`record_end`).
    """
    start = history.at_risk_start
    if start is None:
        if not history.cancers:
            return (
                "no cancer in the record: the awakening index follows dormant cancer cells "
                "from the remission of a cancer"
            )
        return (
            "no remission date (at-risk start) could be derived from the record: the awakening "
            "index counts from it"
        )
    end = record_end(history, as_of)
    if end < start:
        if end != as_of:
            return (
                f"the patient died on {end.isoformat()}, before the at-risk start "
                f"{start.isoformat()}: there is no awakening trajectory"
            )
        return (
            f"not in remission at {as_of.isoformat()} (at-risk start {start.isoformat()}): "
            "there is no awakening trajectory before the at-risk start"
        )
    return None


def percent(probability: float) -> str:
    """A probability (0–1) as a whole percentage, rounded half up; "<1%" and ">99%" at the ends.

    >>> percent(0.004), percent(0.005), percent(0.124), percent(0.999)
    ('<1%', '1%', '12%', '>99%')
    """
    whole = math.floor(probability * 100 + 0.5)
    if whole < 1:
        return "<1%"
    if whole > 99:
        return ">99%"
    return f"{whole}%"


def interval_text(low: float, high: float) -> str:
    """An interval as clinicians write it: "8–17%"."""
    return f"{percent(low).removesuffix('%')}–{percent(high)}"


@dataclass(frozen=True)
class IconCounts:
    """An icon array of ``n`` people like this patient, in three shades.

    ``certain`` people have the event even at the low end of the interval, ``likely`` more at
    the point estimate, ``possible`` more up to the high end; the rest (``free``) do not.
    """

    n: int
    certain: int
    likely: int
    possible: int

    @property
    def free(self) -> int:
        return self.n - self.certain - self.likely - self.possible

    @property
    def events(self) -> int:
        """People with the event at the point estimate."""
        return self.certain + self.likely


def _count(probability: float, n: int) -> int:
    return min(n, max(0, math.floor(probability * n + 0.5)))


def icon_counts(probability: float, low: float, high: float, n: int = 100) -> IconCounts:
    """How many of ``n`` people like this patient have the event (half-up rounding).

    >>> icon_counts(0.124, 0.08, 0.17)
    IconCounts(n=100, certain=8, likely=4, possible=5)
    """
    at_low, at_point, at_high = (_count(p, n) for p in (low, probability, high))
    at_point = max(at_point, at_low)
    at_high = max(at_high, at_point)
    return IconCounts(n=n, certain=at_low, likely=at_point - at_low, possible=at_high - at_point)


def icon_grid(counts: IconCounts, columns: int = 10) -> list[tuple[int, int, str]]:
    """(column, row, shade) of every icon, filled row by row from the top left.

    Shades: ``"certain"``, ``"likely"``, ``"possible"``, ``"free"``.
    """
    shades = (
        ["certain"] * counts.certain
        + ["likely"] * counts.likely
        + ["possible"] * counts.possible
        + ["free"] * counts.free
    )
    return [(i % columns, i // columns, shade) for i, shade in enumerate(shades)]


def _people(count: int, n: int) -> str:
    """A number of people out of ``n`` as :func:`percent` shows it: never "0" (it reads as no
    risk where the risk is below one in a hundred) nor "100"."""
    if count < 1:
        return "less than 1"
    if count >= n:
        return f"more than {n - 1}"
    return str(count)


def out_of_100_text(counts: IconCounts, horizon_months: int) -> str:
    """The icon array in words, e.g. "About 12 in 100 people like this patient …".

    Counts round as :func:`percent` does, and the ends read as it shows them: "less than 1"
    where the icon array has none ("<1%"), "more than 99" where it has all of them.

    >>> print(out_of_100_text(icon_counts(0.02, 0.004, 0.09), 24))  # doctest: +NORMALIZE_WHITESPACE
    Of 100 people like this patient, about 2 would have a metastatic relapse or die of their
    cancer within 24 months, and about 98 would not. Allowing for the model's uncertainty, the
    number could be less than 1 or as high as 9.
    """
    n = counts.n
    low = counts.certain
    high = counts.certain + counts.likely + counts.possible
    if low == high:
        spread = f"the number stays {_about(low, n)}"
    else:
        low_text = _people(low, n) if low < 1 else f"as low as {_people(low, n)}"
        high_text = _people(high, n) if high >= n else f"as high as {_people(high, n)}"
        spread = f"the number could be {low_text} or {high_text}"
    return (
        f"Of 100 people like this patient, {_about(counts.events, n)} would have a metastatic "
        f"relapse or die of their cancer within {horizon_months} months, and "
        f"{_about(n - counts.events, n)} would not. Allowing for the model's uncertainty, "
        f"{spread}."
    )


def _about(count: int, n: int) -> str:
    """The count as "about 12", or "less than 1" / "more than 99" at the ends."""
    return _people(count, n) if count < 1 or count >= n else f"about {count}"


@dataclass(frozen=True)
class TimelineRow:
    """One bar or point of the infection timeline.

    ``episode`` is the index into ``history.infections`` for infection rows (what-if controls
    refer to it), else -1. ``hypothetical`` marks an episode with no source record (added by a
    what-if).
    """

    lane: str
    label: str
    start: dt.date
    end: dt.date
    category: str
    severity: str | None = None
    il6_pg_ml: float | None = None
    detail: str = ""
    episode: int = -1
    hypothetical: bool = False


def _episode_detail(history: PatientHistory, i: int) -> str:
    e = history.infections[i]
    parts = [e.severity.value]
    if e.il6_peak_pg_ml is not None:
        parts.append(f"IL-6 peak {e.il6_peak_pg_ml:.0f} pg/mL")
    if e.il6_blockade:
        parts.append("IL-6 blockade")
    if e.corticosteroids:
        parts.append("corticosteroids")
    if not e.sources:
        parts.append("hypothetical")
    return ", ".join(parts)


def timeline_rows(history: PatientHistory, *, as_of: dt.date) -> list[TimelineRow]:
    """Everything the timeline draws: cancers, treatments, infections, IL-6, virus tests,
    vaccinations.

    Open-ended records (no end date, a cancer not abated) run to ``as_of``. Infection rows have
    their severity and measured IL-6 peak; IL-6 rows are the episodes' measured peaks, placed
    at the episode onset. Virus tests are every recorded result, negative ones included, with
    ``detail`` "positive" or "negative" (a positive one is also part of its episode).
    """
    rows: list[TimelineRow] = []
    for c in history.cancers:
        if c.onset is None:
            continue
        stage = f", stage {c.stage}" if c.stage else ""
        rows.append(
            TimelineRow(
                "Cancer",
                f"{c.site.value.capitalize()} cancer{stage}",
                c.onset,
                c.abatement or as_of,
                c.site.value,
                detail=f"until {c.abatement.isoformat()}" if c.abatement else "not abated",
            )
        )
    for t in history.treatments:
        if t.start is None:
            continue
        name = t.kind.value.replace("_", " ")
        rows.append(
            TimelineRow(
                "Treatment", name.capitalize(), t.start, t.end or t.start, t.kind.value, detail=name
            )
        )
    for i, e in enumerate(history.infections):
        label = PATHOGEN_LABELS[e.pathogen.value]
        rows.append(
            TimelineRow(
                "Infection",
                f"{label} ({e.severity.value})",
                e.onset,
                e.end,
                label,
                severity=e.severity.value,
                il6_pg_ml=e.il6_peak_pg_ml,
                detail=_episode_detail(history, i),
                episode=i,
                hypothetical=not e.sources,
            )
        )
        if e.il6_peak_pg_ml is not None:
            rows.append(
                TimelineRow(
                    "IL-6 measured",
                    f"{e.il6_peak_pg_ml:.0f} pg/mL",
                    e.onset,
                    e.onset,
                    label,
                    severity=e.severity.value,
                    il6_pg_ml=e.il6_peak_pg_ml,
                    detail=f"peak IL-6 of the {label} episode",
                    episode=i,
                )
            )
    for test in history.tests:
        label = PATHOGEN_LABELS[test.pathogen.value]
        result = "positive" if test.positive else "negative"
        rows.append(
            TimelineRow(
                "Virus test", f"{label} test {result}", test.date, test.date, label, detail=result
            )
        )
    for v in history.vaccinations:
        label = PATHOGEN_LABELS.get(v.vaccine.value, "Other")
        rows.append(
            TimelineRow("Vaccination", f"{label} vaccine", v.date, v.date, label, detail="")
        )
    return rows


#: Room after the last date of the timeline, as a share of the dates it spans: a marker drawn on
#: that date (an infection on the assessment date, a hypothetical one 28 days before it) is
#: drawn whole. A share of the span is a fixed share of the chart's width, whatever the dates.
TIMELINE_PAD_FRACTION = 0.04
#: Dates shown before the first cancer (or the at-risk start), days.
TIMELINE_LEAD_DAYS = 180


@dataclass(frozen=True)
class TimelineWindow:
    """The dates the timeline and the awakening trajectory span, one above the other.

    ``start`` is the left edge of the date axis; ``end`` the last date drawn (the assessment
    date, or the date of death: :func:`record_end`); ``axis_end`` the right edge, a little
    after ``end`` (:data:`TIMELINE_PAD_FRACTION`).
    """

    start: dt.date
    end: dt.date
    axis_end: dt.date


def timeline_window(history: PatientHistory, *, as_of: dt.date) -> TimelineWindow:
    """The dates to draw for an assessment as of ``as_of``: from half a year before the first
    cancer or the at-risk start (without one dated by then: the first record, or a year before
    the end) to the end of the record, with room after it.

    >>> from riskcalc.history import PatientHistory
    >>> w = timeline_window(PatientHistory(patient_id="p", at_risk_start=dt.date(2020, 7, 1)),
    ...                     as_of=dt.date(2025, 1, 1))
    >>> w.start, w.end, w.axis_end
    (datetime.date(2020, 1, 3), datetime.date(2025, 1, 1), datetime.date(2025, 3, 15))
    """
    end = record_end(history, as_of)
    anchors = [c.onset for c in history.cancers if c.onset is not None and c.onset <= end]
    if history.at_risk_start is not None and history.at_risk_start <= end:
        anchors.append(history.at_risk_start)
    if not anchors:
        anchors = [d for d, _ in history.dated_sources() if d is not None and d <= end]
        anchors += [t.date for t in history.tests if t.date <= end]
    first = min(anchors, default=end - dt.timedelta(days=365))
    start = first - dt.timedelta(days=TIMELINE_LEAD_DAYS)
    pad = max(1, math.ceil((end - start).days * TIMELINE_PAD_FRACTION))
    return TimelineWindow(start=start, end=end, axis_end=end + dt.timedelta(days=pad))


def timeline_rows_in(history: PatientHistory, window: TimelineWindow) -> list[TimelineRow]:
    """:func:`timeline_rows` of what ``window`` shows: the records dated up to its end that run
    into it, bars still running at its end (a treatment, a cancer not yet abated then) cut
    there. Nothing dated after the assessment date (or death) is drawn, not even in the room
    after it."""
    return [
        replace(r, end=min(r.end, window.end))
        for r in timeline_rows(history, as_of=window.end)
        if r.start <= window.end and r.end >= window.start
    ]


@dataclass(frozen=True)
class BasisRow:
    """One record the assessment used (FDA CDS criterion 4: the basis can be reviewed)."""

    reference: str
    resource_type: str
    used_as: str
    date: dt.date | None
    detail: str


def basis_rows(history: PatientHistory, *, as_of: dt.date | None = None) -> list[BasisRow]:
    """Every source resource of the history with what it was used as and its date; with
    ``as_of``, only those of records dated on or before it and the undated ones.

    A resource used by several records (e.g. an Encounter of two conditions) gets one row per
    use; rows are sorted by date (undated first), then reference. Together the rows cover
    exactly ``history.basis_until(as_of)``, a report's ``basis``.
    """
    rows: set[BasisRow] = set()

    def add(sources: tuple[str, ...], used_as: str, day: dt.date | None, detail: str) -> None:
        if as_of is not None and day is not None and day > as_of:
            return
        for ref in sources:
            rows.add(BasisRow(ref, ref.split("/", 1)[0], used_as, day, detail))

    for c in history.cancers:
        add(c.sources, "cancer diagnosis", c.onset, f"{c.site.value}, stage {c.stage or 'n/a'}")
    for i, e in enumerate(history.infections):
        add(
            e.sources,
            "infection episode",
            e.onset,
            f"{PATHOGEN_LABELS[e.pathogen.value]}: {_episode_detail(history, i)}",
        )
    for v in history.vaccinations:
        add(v.sources, "vaccination", v.date, v.vaccine.value)
    for t in history.treatments:
        add(t.sources, "treatment", t.start, t.kind.value.replace("_", " "))
    for o in history.outcomes:
        add(o.sources, "outcome", o.date, o.kind.value.replace("_", " "))
    add(history.undated_metastases, "metastasis", None, "undated: its date is not known")
    return sorted(rows, key=lambda r: (r.date or dt.date.min, r.reference, r.used_as))


_FEATURES = schema_by_name()


def driver_value_text(driver: Driver) -> str:
    """A driver's input value as a clinician reads it: "yes"/"no" for a flag, a whole number
    for a count or stage group, years and pg/mL with their unit, other values to 2 decimals.

    >>> from riskcalc.report import Driver
    >>> d = Driver(feature="awakening_score", label="Awakening score",
    ...            value=1.810445564404221, effect_pp=0.4, direction="raises")
    >>> driver_value_text(d)
    '1.81'
    """
    value = driver.value
    if value is None:
        return "not recorded"
    if isinstance(value, str):
        return value
    spec = _FEATURES.get(driver.feature)
    if spec is None:
        return f"{value:.2f}"
    if spec.dtype is FeatureDType.BINARY:
        return "yes" if value else "no"
    if spec.dtype in (FeatureDType.COUNT, FeatureDType.ORDINAL):
        return f"{value:.0f}"
    if spec.unit == "a":
        return f"{value:.1f} years"
    if spec.unit == "pg/mL":
        return f"{value:.0f} pg/mL"
    return f"{value:.2f}"


@dataclass(frozen=True)
class DriverRow:
    """One row of the drivers table: the input, its value as read, and its effect."""

    label: str
    value: str
    effect_pp: float
    direction: str


def driver_rows(drivers: Sequence[Driver]) -> list[DriverRow]:
    """The drivers as table rows, values as :func:`driver_value_text` reads them."""
    return [DriverRow(d.label, driver_value_text(d), d.effect_pp, d.direction) for d in drivers]


@dataclass(frozen=True)
class CounterfactualRow:
    """One row of the model hypotheticals table."""

    label: str
    risk: str
    delta_pp: float
    awakening_score: float


def counterfactual_rows(counterfactuals: Sequence[Counterfactual]) -> list[CounterfactualRow]:
    """The model's hypotheticals as table rows, the risk as :func:`percent` shows it."""
    return [
        CounterfactualRow(c.label, percent(c.probability), c.delta_pp, c.awakening_score)
        for c in counterfactuals
    ]


@dataclass(frozen=True)
class CohortTable:
    """A scored cohort as tables (the researcher page): scores, errors and the reconciliation."""

    scores: pd.DataFrame
    errors: pd.DataFrame
    reconciliation: Reconciliation


def score_cohort_table(
    source: Source,
    *,
    as_of: dt.date,
    horizon_months: int | None = None,
    model: RiskModel | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    chunk_patients: int = 64,
    label: str | None = None,
) -> CohortTable:
    """Score every patient of ``source`` into tables, with progress as (done, total) patients.

    The same rows as :func:`riskcalc.report.score_cohort` (it goes through
    :func:`riskcalc.report.score_chunk`), but kept in memory: for cohorts an app session can
    hold. All patients are read first, so that the progress has a total; for large cohorts use
    ``riskcalc score``. ``label`` names an in-memory source (an uploaded file's name) in
    messages, as :func:`riskcalc.read_histories` takes it.
    """
    from riskcalc.fhir import read_histories
    from riskcalc.model import load_model

    loaded = model or load_model()
    items: list[PatientHistory | ReadFailure] = list(read_histories(source, label=label))
    total = len(items)
    if on_progress is not None:
        on_progress(0, total)
    score_rows: list[Row] = []
    error_rows: list[Row] = []
    skipped = SkippedLines()
    failed = done = 0
    for chunk in chunked(items, chunk_patients):
        rows, errors = score_chunk(chunk, as_of=as_of, horizon_months=horizon_months, model=loaded)
        failures, lines = skipped.sort(errors)
        score_rows += rows
        error_rows += failures + lines
        failed += len(failures)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
    scored = sum(r["status"] == ReportStatus.OK.value for r in score_rows)
    reconciliation = Reconciliation(
        read=total,
        scored=scored,
        not_applicable=len(score_rows) - scored,
        failed=failed,
        skipped_lines=skipped.lines,
    )
    import pandas as pd  # here: `import riskcalc` should not load pandas (0.2 s)

    scores = pd.DataFrame(score_rows, columns=list(SCORE_COLUMNS))
    errors_frame = pd.DataFrame(error_rows, columns=list(ERROR_COLUMNS))
    return CohortTable(scores=scores, errors=errors_frame, reconciliation=reconciliation)


__all__ = [
    "LANES",
    "PATHOGEN_LABELS",
    "TIMELINE_LEAD_DAYS",
    "TIMELINE_PAD_FRACTION",
    "BasisRow",
    "CohortTable",
    "CounterfactualRow",
    "DriverRow",
    "IconCounts",
    "TimelineRow",
    "TimelineWindow",
    "awakening_unavailable_reason",
    "basis_rows",
    "completed_years",
    "counterfactual_rows",
    "driver_rows",
    "driver_value_text",
    "header_parts",
    "icon_counts",
    "icon_grid",
    "interval_text",
    "out_of_100_text",
    "percent",
    "record_end",
    "score_cohort_table",
    "timeline_rows",
    "timeline_rows_in",
    "timeline_window",
    "used_episodes",
]
