"""Data behind the app's views: a history and a report turned into plain rows to draw.

Pure functions, no Streamlit: the app only draws what these return, so what a clinician sees is
tested here. Rows are frozen dataclasses; ``dataclasses.asdict`` gives a table row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.report._model import ReportStatus
from riskcalc.report._score import (
    ERROR_COLUMNS,
    SCORE_COLUMNS,
    Reconciliation,
    Row,
    chunked,
    score_chunk,
)

if TYPE_CHECKING:
    import pandas as pd

    from riskcalc.fhir import Source
    from riskcalc.model import RiskModel

#: Display names of pathogens, severities and record kinds (plain language).
PATHOGEN_LABELS = {
    "covid19": "COVID-19",
    "influenza": "Influenza",
    "rsv": "RSV",
    "other_viral": "Other viral",
}

#: Timeline lanes, top to bottom.
LANES = ("Cancer", "Treatment", "Infection", "IL-6 measured", "Virus test", "Vaccination")


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


def out_of_100_text(counts: IconCounts, horizon_months: int) -> str:
    """The icon array in words, e.g. "About 12 in 100 people like this patient …"."""
    low = counts.certain
    high = counts.certain + counts.likely + counts.possible
    return (
        f"Of 100 people like this patient, about {counts.events} would have a metastatic relapse "
        f"or die of their cancer within {horizon_months} months, and about {counts.n - counts.events} "
        f"would not. Allowing for the model's uncertainty, the number could be as low as {low} or "
        f"as high as {high}."
    )


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
) -> CohortTable:
    """Score every patient of ``source`` into tables, with progress as (done, total) patients.

    The same rows as :func:`riskcalc.report.score_cohort` (it goes through
    :func:`riskcalc.report.score_chunk`), but kept in memory: for cohorts an app session can
    hold. All patients are read first, so that the progress has a total; for large cohorts use
    ``riskcalc score``.
    """
    from riskcalc.fhir import read_histories
    from riskcalc.model import load_model

    loaded = model or load_model()
    items: list[PatientHistory | ReadFailure] = list(read_histories(source))
    total = len(items)
    if on_progress is not None:
        on_progress(0, total)
    score_rows: list[Row] = []
    error_rows: list[Row] = []
    done = 0
    for chunk in chunked(items, chunk_patients):
        rows, errors = score_chunk(chunk, as_of=as_of, horizon_months=horizon_months, model=loaded)
        score_rows += rows
        error_rows += errors
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
    scored = sum(r["status"] == ReportStatus.OK.value for r in score_rows)
    reconciliation = Reconciliation(
        read=total,
        scored=scored,
        not_applicable=len(score_rows) - scored,
        failed=len(error_rows),
    )
    import pandas as pd  # here: `import riskcalc` should not load pandas (0.2 s)

    scores = pd.DataFrame(score_rows, columns=list(SCORE_COLUMNS))
    errors_frame = pd.DataFrame(error_rows, columns=list(ERROR_COLUMNS))
    return CohortTable(scores=scores, errors=errors_frame, reconciliation=reconciliation)


__all__ = [
    "LANES",
    "PATHOGEN_LABELS",
    "BasisRow",
    "CohortTable",
    "IconCounts",
    "TimelineRow",
    "basis_rows",
    "icon_counts",
    "icon_grid",
    "interval_text",
    "out_of_100_text",
    "percent",
    "score_cohort_table",
    "timeline_rows",
]
