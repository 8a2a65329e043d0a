"""What-if: the same patient with recorded episodes switched off, re-graded or covered by IL-6
blockade, or with one hypothetical future infection added.

The app's what-if controls call these functions and then assess the altered history with the
same core as the recorded one (:func:`riskcalc.report.assess_histories`), so a what-if result is
exactly the model's answer for a hypothetical record. Every result built from an altered history
is a model-based hypothetical, never an observation; IL-6 blockade as a way to prevent awakening
is a mouse-model finding (Chia et al., Nature 2025), not clinical evidence.

>>> import datetime as dt
>>> from riskcalc.history import InfectionEpisode, PatientHistory
>>> flu = InfectionEpisode(pathogen="influenza", onset=dt.date(2021, 1, 1),
...                        end=dt.date(2021, 1, 7), severity="mild")
>>> h = PatientHistory(patient_id="p", infections=(flu,))
>>> apply_what_if(h, WhatIf(disabled_episodes=frozenset({0}))).infections
()
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from riskcalc.errors import ConfigError
from riskcalc.history import InfectionEpisode, Pathogen, PatientHistory, Severity
from riskcalc.report.views import PATHOGEN_LABELS

#: Days from a hypothetical infection's onset to the date it is assessed at: long enough for the
#: acute IL-6 pulse to have passed (about two weeks, longer in severe COVID-19; evidence.md) and
#: the awakening it caused to show in the score.
HYPOTHETICAL_ASSESSMENT_LAG_DAYS = 28

#: Illness length assumed for a hypothetical episode, days (onset to end inclusive), by severity:
#: about a week for a mild viral illness, two weeks with admission, three with intensive care.
HYPOTHETICAL_DURATION_DAYS: dict[Severity, int] = {
    Severity.MILD: 7,
    Severity.HOSPITALISED: 14,
    Severity.CRITICAL: 21,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HypotheticalInfection(_Frozen):
    """An infection that did not happen (or has not happened yet), added to the record."""

    onset: dt.date
    pathogen: Pathogen
    severity: Severity
    il6_blockade: bool = False


class WhatIf(_Frozen):
    """Changes to a patient's recorded infection episodes (indices into ``history.infections``).

    The empty ``WhatIf()`` changes nothing (:attr:`is_empty`).
    """

    disabled_episodes: frozenset[int] = Field(
        frozenset(), description="Recorded episodes treated as if they had not happened"
    )
    severity_overrides: dict[int, Severity] = Field(
        default_factory=dict,
        description="Recorded episodes re-graded; the measured IL-6 peak of a re-graded episode "
        "is dropped (it belongs to the observed illness) and the class default applies",
    )
    blockade_episodes: frozenset[int] = Field(
        frozenset(), description="Recorded episodes treated as if IL-6 blockade had covered them"
    )
    hypothetical_infection: HypotheticalInfection | None = None

    @property
    def is_empty(self) -> bool:
        """True when the what-if leaves the record as it is."""
        return (
            not self.disabled_episodes
            and not self.severity_overrides
            and not self.blockade_episodes
            and self.hypothetical_infection is None
        )


def _check_indices(what_if: WhatIf, n_episodes: int) -> None:
    used = (
        set(what_if.disabled_episodes)
        | set(what_if.severity_overrides)
        | set(what_if.blockade_episodes)
    )
    bad = sorted(i for i in used if not 0 <= i < n_episodes)
    if bad:
        raise ConfigError(
            "config.invalid",
            f"what-if refers to episode(s) {bad}, but the record has {n_episodes} episode(s) "
            f"(indices 0 to {n_episodes - 1})",
        )


def hypothetical_episode(infection: HypotheticalInfection) -> InfectionEpisode:
    """The :class:`InfectionEpisode` a hypothetical infection stands for.

    Its IL-6 peak is not measured (the awakening model uses the default for the pathogen and
    severity class), its length is :data:`HYPOTHETICAL_DURATION_DAYS`, and it has no sources:
    it never appears in a report's basis.
    """
    days = HYPOTHETICAL_DURATION_DAYS[infection.severity]
    return InfectionEpisode(
        pathogen=infection.pathogen,
        onset=infection.onset,
        end=infection.onset + dt.timedelta(days=days - 1),
        severity=infection.severity,
        il6_blockade=infection.il6_blockade,
    )


def apply_what_if(history: PatientHistory, what_if: WhatIf) -> PatientHistory:
    """The history with the what-if's changes applied (a new record; the input is unchanged).

    Parameters
    ----------
    history
        The recorded history.
    what_if
        Episode indices refer to ``history.infections`` in its (date) order.

    Returns
    -------
    PatientHistory
        Disabled episodes removed; re-graded episodes with the new severity and no measured IL-6;
        blockade episodes with ``il6_blockade=True``; the hypothetical infection inserted in
        date order. Everything else (cancers, vaccinations, warnings, …) is kept as recorded.

    Raises
    ------
    ConfigError
        ``config.invalid`` if an index is outside the recorded episodes.
    """
    _check_indices(what_if, len(history.infections))
    if what_if.is_empty:
        return history
    episodes: list[InfectionEpisode] = []
    for i, episode in enumerate(history.infections):
        if i in what_if.disabled_episodes:
            continue
        update: dict[str, object] = {}
        new_severity = what_if.severity_overrides.get(i)
        if new_severity is not None and new_severity is not episode.severity:
            update["severity"] = new_severity
            update["il6_peak_pg_ml"] = None
        if i in what_if.blockade_episodes:
            update["il6_blockade"] = True
        episodes.append(episode.model_copy(update=update) if update else episode)
    if what_if.hypothetical_infection is not None:
        episodes.append(hypothetical_episode(what_if.hypothetical_infection))
        episodes.sort(key=lambda e: (e.onset, e.end))
    return history.model_copy(update={"infections": tuple(episodes)})


def what_if_as_of(as_of: dt.date, what_if: WhatIf) -> dt.date:
    """The assessment date for a what-if: ``as_of``, moved later for a future infection.

    A hypothetical infection can only change the estimate once it has happened and its acute
    inflammation has passed, so the date moves to ``max(as_of, onset + 28 days)``
    (:data:`HYPOTHETICAL_ASSESSMENT_LAG_DAYS`). The recorded history should be assessed at the
    same date when the two are compared.

    >>> import datetime as dt
    >>> w = WhatIf(hypothetical_infection=HypotheticalInfection(
    ...     onset=dt.date(2027, 1, 10), pathogen="influenza", severity="mild"))
    >>> what_if_as_of(dt.date(2026, 11, 1), w)
    datetime.date(2027, 2, 7)
    """
    infection = what_if.hypothetical_infection
    if infection is None:
        return as_of
    return max(as_of, infection.onset + dt.timedelta(days=HYPOTHETICAL_ASSESSMENT_LAG_DAYS))


def describe_what_if(history: PatientHistory, what_if: WhatIf) -> list[str]:
    """One plain-language line per change, for labelling a hypothetical result."""
    _check_indices(what_if, len(history.infections))

    def name(i: int) -> str:
        e = history.infections[i]
        return f"{PATHOGEN_LABELS[e.pathogen.value]} of {e.onset.isoformat()} ({e.severity.value})"

    lines = [f"Without the {name(i)}" for i in sorted(what_if.disabled_episodes)]
    lines += [
        f"The {name(i)} graded {s.value}"
        for i, s in sorted(what_if.severity_overrides.items())
        if i not in what_if.disabled_episodes and s is not history.infections[i].severity
    ]
    lines += [
        f"IL-6 blockade covering the {name(i)} (mouse-model evidence only)"
        for i in sorted(what_if.blockade_episodes)
        if i not in what_if.disabled_episodes
    ]
    infection = what_if.hypothetical_infection
    if infection is not None:
        text = (
            f"A hypothetical {infection.severity.value} {PATHOGEN_LABELS[infection.pathogen.value]} "
            "infection "
            f"starting {infection.onset.isoformat()}"
        )
        if infection.il6_blockade:
            text += " covered by IL-6 blockade (mouse-model evidence only)"
        lines.append(text)
    return lines
