"""A labelled cohort: features at index dates, follow-up after them, and the exclusions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskcalc.errors import InputError
from riskcalc.features import feature_frame
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.model._labels import HorizonLabels, build_risk_set, followable_rows, ipcw_labels


@dataclass(frozen=True)
class LabelledCohort:
    """Everything training and evaluation need, in row order.

    Attributes
    ----------
    features
        Feature table (schema columns), one row per patient and index date.
    time_days, status
        Follow-up from the index date (days) and how it ended (0 censored, 1 target event,
        2 competing death).
    patient_ids, index_dates
        Who and when, per row.
    excluded
        Patients left out, by reason (``not_in_remission``, ``too_recent``, ...), and read failures.
    true_risk
        Known true risks by horizon (months), for simulated cohorts that have them.
    data_cutoff
        The cohort's data cut-off (its latest contact); at each horizon only the rows indexed
        at least that long before it are labelled (:func:`followable_rows`). None: all rows
        (censoring that does not depend on the index date, as in the oracle cohorts).
    """

    features: pd.DataFrame
    time_days: npt.NDArray[np.float64]
    status: npt.NDArray[np.int64]
    patient_ids: npt.NDArray[np.str_]
    index_dates: tuple[dt.date, ...]
    excluded: Mapping[str, int] = field(default_factory=dict)
    true_risk: Mapping[int, npt.NDArray[np.float64]] = field(default_factory=dict)
    data_cutoff: dt.date | None = None

    def __len__(self) -> int:
        return len(self.time_days)

    def labels(self, horizon_months: int) -> HorizonLabels:
        """Labels and IPC weights at a horizon."""
        followable = followable_rows(self.index_dates, self.data_cutoff, horizon_months)
        return ipcw_labels(
            self.time_days, self.status, horizon_months=horizon_months, followable=followable
        )

    def eligibility(self) -> str:
        """The eligible rows and patients, and the exclusions by reason, in words (for messages).

        >>> LabelledCohort(pd.DataFrame(), np.empty(0), np.empty(0, np.int64),
        ...     np.empty(0, np.str_), (), {"no_at_risk_start": 12}).eligibility()
        '0 eligible patient-index-date rows of 0 patients (excluded: no_at_risk_start 12)'
        """
        patients = len(set(self.patient_ids.tolist()))
        excluded = ", ".join(f"{k} {v}" for k, v in sorted(self.excluded.items())) or "none"
        return (
            f"{len(self)} eligible patient-index-date rows of {patients} patients "
            f"(excluded: {excluded})"
        )

    def subset(self, rows: npt.NDArray[np.intp]) -> LabelledCohort:
        """The rows given (positions)."""
        return LabelledCohort(
            features=self.features.iloc[rows],
            time_days=self.time_days[rows],
            status=self.status[rows],
            patient_ids=self.patient_ids[rows],
            index_dates=tuple(self.index_dates[i] for i in rows),
            excluded=dict(self.excluded),
            true_risk={h: r[rows] for h, r in self.true_risk.items()},
            data_cutoff=self.data_cutoff,
        )


def prepare_cohort(
    histories: Iterable[PatientHistory | ReadFailure],
    *,
    seed: int,
    cohort_end: dt.date | None = None,
    index_dates_per_patient: int = 1,
    post_infection_days: int | None = None,
) -> LabelledCohort:
    """Apply the index-date policy and build features and follow-up (docs/researchers/model.md).

    Read failures are counted under ``excluded["read_failure"]``.
    """
    good: list[PatientHistory] = []
    failures = 0
    for item in histories:
        if isinstance(item, ReadFailure):
            failures += 1
        else:
            good.append(item)
    risk_set = build_risk_set(
        good,
        seed=seed,
        cohort_end=cohort_end,
        index_dates_per_patient=index_dates_per_patient,
        post_infection_days=post_infection_days,
    )
    excluded = dict(risk_set.excluded)
    if failures:
        excluded["read_failure"] = failures
    return LabelledCohort(
        features=feature_frame(risk_set.histories, risk_set.index_dates),
        time_days=np.asarray(risk_set.time_days, dtype=np.float64),
        status=np.asarray(risk_set.status, dtype=np.int64),
        patient_ids=np.asarray([h.patient_id for h in risk_set.histories], dtype=np.str_),
        index_dates=tuple(risk_set.index_dates),
        excluded=excluded,
        data_cutoff=risk_set.end,
    )


def read_cohort(
    source: str | Path,
    *,
    seed: int,
    index_dates_per_patient: int = 1,
    post_infection_days: int | None = None,
    whole_records: bool = False,
) -> LabelledCohort:
    """Read a cohort (NDJSON export, Bundles, a folder) through the FHIR reader and label it;
    ``whole_records``: as :func:`riskcalc.read_histories` takes it."""
    from riskcalc import read_histories

    path = Path(source)
    if not path.exists():
        raise InputError("input.not_found", f"no cohort at {path}")
    return prepare_cohort(
        read_histories(path, whole_records=whole_records),
        seed=seed,
        index_dates_per_patient=index_dates_per_patient,
        post_infection_days=post_infection_days,
    )
