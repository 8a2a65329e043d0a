"""Infection episodes: many records of one illness become one :class:`InfectionEpisode`.

Pure functions, no FHIR: the reader turns Conditions and positive tests into provisional
episodes (*anchors*) and everything else that can describe an illness (a suspected-COVID-19
Condition, a pneumonia, the Encounter that treated it, an oxygen or ventilation Procedure, an IL-6
result, a medication) into :class:`Attachment` records; :func:`build_episodes` combines them.

Rules (documented in docs/fhir-input.md):

* Two episodes of the same pathogen whose intervals lie within ``window_days`` of each other
  (gap between one's end and the other's onset ≤ window) are one episode; this is transitive.
* An attachment joins the nearest episode it may join (ties: pathogen name, then onset), if any:
  conditions within ``window_days`` of the episode interval (suspected COVID-19 only joins
  COVID-19 episodes) and extend its interval; IL-6 results within ``window_days`` give the peak;
  Encounters and Procedures overlapping the interval raise the severity; medications overlapping
  the interval set ``il6_blockade`` / ``corticosteroids``.
* An attachment with ``standalone`` set (an unspecified viral pneumonia) that joins no episode
  becomes an episode of that pathogen; any other attachment that joins nothing is dropped (a
  suspected COVID-19 with no confirmation is not an infection).

The result does not depend on input order, and :func:`merge_episodes` is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from riskcalc.history._model import InfectionEpisode, Pathogen, Severity

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "Attachment",
    "AttachmentKind",
    "build_episodes",
    "merge_episodes",
]

#: Records of one pathogen within this many days of each other are one illness. Two weeks covers
#: the usual gap between symptom onset, test and admission in respiratory viral infections and
#: the mouse awakening window (Chia et al. 2025); see docs/fhir-input.md.
DEFAULT_WINDOW_DAYS = 14


class AttachmentKind:
    """How an attachment joins an episode."""

    CONDITION: Final = "condition"  # within the window; extends the interval
    OBSERVATION: Final = "observation"  # within the window; IL-6 peak
    OVERLAP: Final = "overlap"  # must overlap the interval: encounter, procedure, medication


@dataclass(frozen=True)
class Attachment:
    """A record that describes an illness but does not start an episode by itself.

    Attributes
    ----------
    start, end
        Dates the record covers (``end >= start``).
    sources
        ``ResourceType/id`` of the record (and of the Encounter it links to, if any).
    kind
        An :class:`AttachmentKind` value.
    pathogen
        Only join episodes of this pathogen (None: any).
    standalone
        If no episode takes it, it becomes an episode of this pathogen.
    severity
        The severity the record shows, if any (raises the episode's severity).
    il6_pg_ml
        An IL-6 result in pg/mL.
    il6_blockade, corticosteroids
        Medication flags.
    """

    start: dt.date
    end: dt.date
    sources: tuple[str, ...]
    kind: str = AttachmentKind.CONDITION
    pathogen: Pathogen | None = None
    standalone: Pathogen | None = None
    severity: Severity | None = None
    il6_pg_ml: float | None = None
    il6_blockade: bool = False
    corticosteroids: bool = False


def _gap_days(a_start: dt.date, a_end: dt.date, b_start: dt.date, b_end: dt.date) -> int:
    """Days between two intervals; 0 or less if they overlap."""
    return max((b_start - a_end).days, (a_start - b_end).days)


def _combine(a: InfectionEpisode, b: InfectionEpisode) -> InfectionEpisode:
    peaks = [p for p in (a.il6_peak_pg_ml, b.il6_peak_pg_ml) if p is not None]
    return InfectionEpisode(
        pathogen=a.pathogen,
        onset=min(a.onset, b.onset),
        end=max(a.end, b.end),
        severity=a.severity if a.severity.rank >= b.severity.rank else b.severity,
        il6_peak_pg_ml=max(peaks) if peaks else None,
        il6_blockade=a.il6_blockade or b.il6_blockade,
        corticosteroids=a.corticosteroids or b.corticosteroids,
        sources=tuple(sorted(set(a.sources) | set(b.sources))),
    )


def _sort_key(e: InfectionEpisode) -> tuple[dt.date, str, dt.date, tuple[str, ...]]:
    return (e.onset, e.pathogen.value, e.end, e.sources)


def merge_episodes(
    episodes: Iterable[InfectionEpisode], *, window_days: int = DEFAULT_WINDOW_DAYS
) -> tuple[InfectionEpisode, ...]:
    """Merge same-pathogen episodes within ``window_days`` of each other.

    Order-independent and idempotent: the output, merged again, is unchanged. Sorted by onset,
    then pathogen.
    """
    by_pathogen: dict[Pathogen, list[InfectionEpisode]] = {}
    for episode in episodes:
        by_pathogen.setdefault(episode.pathogen, []).append(episode)
    merged: list[InfectionEpisode] = []
    for group in by_pathogen.values():
        group.sort(key=_sort_key)
        current = group[0]
        for nxt in group[1:]:
            # sorted by onset: nxt joins if it starts within the window after current's end
            if (nxt.onset - current.end).days <= window_days:
                current = _combine(current, nxt)
            else:
                merged.append(current)
                current = nxt
        merged.append(current)
    return tuple(sorted(merged, key=_sort_key))


def _eligible(a: Attachment, e: InfectionEpisode, window_days: int) -> int | None:
    """Distance used to choose the episode an attachment joins, or None if it may not join."""
    if a.pathogen is not None and a.pathogen is not e.pathogen:
        return None
    gap = _gap_days(a.start, a.end, e.onset, e.end)
    if a.kind == AttachmentKind.OVERLAP:
        return 0 if gap <= 0 else None
    return max(gap, 0) if gap <= window_days else None


def _apply(e: InfectionEpisode, attached: list[Attachment]) -> InfectionEpisode:
    onset, end, severity = e.onset, e.end, e.severity
    peak = e.il6_peak_pg_ml
    blockade, steroids = e.il6_blockade, e.corticosteroids
    sources = set(e.sources)
    for a in attached:
        sources.update(a.sources)
        if a.kind == AttachmentKind.CONDITION:
            onset, end = min(onset, a.start), max(end, a.end)
        if a.severity is not None and a.severity.rank > severity.rank:
            severity = a.severity
        if a.il6_pg_ml is not None:
            peak = a.il6_pg_ml if peak is None else max(peak, a.il6_pg_ml)
        blockade = blockade or a.il6_blockade
        steroids = steroids or a.corticosteroids
    return InfectionEpisode(
        pathogen=e.pathogen,
        onset=onset,
        end=end,
        severity=severity,
        il6_peak_pg_ml=peak,
        il6_blockade=blockade,
        corticosteroids=steroids,
        sources=tuple(sorted(sources)),
    )


def _attachment_key(a: Attachment) -> tuple[object, ...]:
    """A total order on attachments (None sorts first), so results never depend on input order."""
    return (
        a.start,
        a.end,
        a.sources,
        a.kind,
        a.pathogen or "",
        a.standalone or "",
        a.severity.rank if a.severity else -1,
        -1.0 if a.il6_pg_ml is None else a.il6_pg_ml,
        a.il6_blockade,
        a.corticosteroids,
    )


def build_episodes(
    anchors: Iterable[InfectionEpisode],
    attachments: Iterable[Attachment] = (),
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[InfectionEpisode, ...]:
    """Episodes from anchors (confirmed conditions, positive tests) and attachments.

    Order-independent: anchors are merged, each attachment picks its episode against the merged
    anchors (nearest first, ties broken by pathogen then onset), then episodes are merged again.
    """
    base = list(merge_episodes(anchors, window_days=window_days))
    joined: list[list[Attachment]] = [[] for _ in base]
    standalone: list[InfectionEpisode] = []
    for a in sorted(set(attachments), key=_attachment_key):
        best: tuple[int, str, dt.date, int] | None = None
        for i, e in enumerate(base):
            dist = _eligible(a, e, window_days)
            if dist is not None and (best is None or (dist, e.pathogen.value, e.onset, i) < best):
                best = (dist, e.pathogen.value, e.onset, i)
        if best is not None:
            joined[best[3]].append(a)
        elif a.standalone is not None:
            standalone.append(
                InfectionEpisode(
                    pathogen=a.standalone,
                    onset=a.start,
                    end=a.end,
                    severity=a.severity or Severity.MILD,
                    sources=tuple(sorted(a.sources)),
                )
            )
    result = [_apply(e, j) for e, j in zip(base, joined, strict=True)]
    return merge_episodes(result + standalone, window_days=window_days)
