"""Stream a simulated cohort to disk: FHIR (NDJSON or Bundles) plus a hidden ground-truth table.

Layout of the output folder::

    DIR/manifest.json                 seed, size, format, version, parameters
    DIR/fhir/Patient.ndjson ...       Bulk Data NDJSON, one file per resource type (default)
    DIR/fhir/Bundle-<id>.json         or one collection Bundle per patient (--format bundles)
    DIR/ground_truth/patients.parquet true event times, dormant and awakened cells
    DIR/ground_truth/episodes.parquet every infection episode (recorded or not) with its IL-6
                                      exposure and the cells it woke

Readers are pointed at ``DIR/fhir`` only. Memory stays bounded: chunks of patients are generated,
written and dropped. The folder appears atomically (written under a temporary name, then renamed).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc._output import new_temp_folder, writing
from riskcalc.cohort._engine import simulate_chunk
from riskcalc.cohort._fhir import patient_resources
from riskcalc.cohort._params import TruthParams, to_date
from riskcalc.cohort._records import SimPatient
from riskcalc.errors import ConfigError

RESOURCE_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "Encounter",
    "Procedure",
    "MedicationRequest",
    "Immunization",
)
DEFAULT_CHUNK = 2000


class OutputFormat(StrEnum):
    NDJSON = "ndjson"
    BUNDLES = "bundles"


def iter_patients(
    n_patients: int,
    seed: int,
    *,
    params: TruthParams | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> Iterator[SimPatient]:
    """Simulated patients one by one, generated a chunk at a time (bounded memory).

    Parameters
    ----------
    n_patients
        Cohort size (>= 1).
    seed
        Seed of the cohort; with the same ``chunk_size`` the same seed gives the same patients.
    params
        Ground-truth knobs; the calibrated defaults when None.
    chunk_size
        Patients generated together (vectorised); part of the random stream's definition.
    """
    if n_patients < 1 or chunk_size < 1 or seed < 0:
        raise ConfigError(
            "config.invalid",
            f"need n_patients >= 1, chunk_size >= 1 and seed >= 0; got {n_patients}, "
            f"{chunk_size}, {seed}",
        )
    params = params or TruthParams()
    for chunk, first in enumerate(range(0, n_patients, chunk_size)):
        size = min(chunk_size, n_patients - first)
        yield from simulate_chunk(seed, chunk, first, size, params)


def _day(d: int | None) -> Any:
    return None if d is None else to_date(d)


def _truth_rows(patients: list[SimPatient]) -> tuple[pa.Table, pa.Table]:
    prow: dict[str, list[Any]] = {k: [] for k in PATIENT_COLUMNS}
    erow: dict[str, list[Any]] = {k: [] for k in EPISODE_COLUMNS}
    for p in patients:
        values = {
            "patient_id": p.patient_id,
            "site": p.site.value,
            "stage": p.stage,
            "female": p.female,
            "er_positive": p.er_positive,
            "her2_positive": p.her2_positive,
            "at_risk_start": _day(p.at_risk_start_day),
            "dormant_lung": p.dormant_lung,
            "dormant_other": p.dormant_other,
            "relapse_date": _day(p.relapse_day),
            "lung_met_date": _day(p.lung_met_day),
            "other_met_date": _day(p.other_met_day),
            "first_relapse_lung": p.first_relapse_lung,
            "relapse_by_infection": p.relapse_by_infection,
            "death_date": _day(p.death_day),
            "death_cause": p.death_cause,
            "ltfu_date": _day(p.ltfu_day),
            "last_contact": _day(p.last_contact_day),
        }
        for k, v in values.items():
            prow[k].append(v)
        for number, e in enumerate(p.episodes):
            ev = {
                "patient_id": p.patient_id,
                "episode": number,
                "pathogen": e.pathogen.to_pathogen().value,
                "onset": _day(e.onset_day),
                "end": _day(e.end_day),
                "severity": e.severity.to_severity().value,
                "il6_true_peak_pg_ml": e.il6_true_peak_pg_ml,
                "il6_exposure_pg_day_ml": e.il6_exposure_pg_day_ml,
                "il6_blockade": e.il6_blockade,
                "corticosteroids": e.corticosteroids,
                "recorded": e.recorded,
                "fatal": e.fatal,
                "awakened_lung": e.awakened_lung,
                "awakened_other": e.awakened_other,
            }
            for key, v in ev.items():
                erow[key].append(v)
    return (
        pa.table(prow, schema=pa.schema(list(PATIENT_COLUMNS.items()))),
        pa.table(erow, schema=pa.schema(list(EPISODE_COLUMNS.items()))),
    )


PATIENT_COLUMNS: dict[str, pa.DataType] = {
    "patient_id": pa.string(),
    "site": pa.string(),
    "stage": pa.string(),
    "female": pa.bool_(),
    "er_positive": pa.bool_(),
    "her2_positive": pa.bool_(),
    "at_risk_start": pa.date32(),
    "dormant_lung": pa.int32(),
    "dormant_other": pa.int32(),
    "relapse_date": pa.date32(),
    "lung_met_date": pa.date32(),
    "other_met_date": pa.date32(),
    "first_relapse_lung": pa.bool_(),
    "relapse_by_infection": pa.bool_(),
    "death_date": pa.date32(),
    "death_cause": pa.string(),
    "ltfu_date": pa.date32(),
    "last_contact": pa.date32(),
}
EPISODE_COLUMNS: dict[str, pa.DataType] = {
    "patient_id": pa.string(),
    "episode": pa.int32(),
    "pathogen": pa.string(),
    "onset": pa.date32(),
    "end": pa.date32(),
    "severity": pa.string(),
    "il6_true_peak_pg_ml": pa.float64(),
    "il6_exposure_pg_day_ml": pa.float64(),
    "il6_blockade": pa.bool_(),
    "corticosteroids": pa.bool_(),
    "recorded": pa.bool_(),
    "fatal": pa.bool_(),
    "awakened_lung": pa.int32(),
    "awakened_other": pa.int32(),
}


def _bundle(p: SimPatient, resources: list[dict[str, Any]]) -> bytes:
    bundle = {
        "resourceType": "Bundle",
        "id": p.patient_id,
        "type": "collection",
        "entry": [
            {
                "fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
            }
            for r in resources
        ],
    }
    return orjson.dumps(bundle)


def _prepare_target(out: Path) -> Path:
    """A new temporary folder beside ``out``, with the mode the umask gives a new folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            "config.invalid",
            f"{out} exists and is not an empty folder; choose a new or empty folder",
        )
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        return new_temp_folder(out)


def write_cohort(
    out: str | os.PathLike[str],
    *,
    n_patients: int,
    seed: int,
    fmt: OutputFormat = OutputFormat.NDJSON,
    params: TruthParams | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
) -> Path:
    """Simulate a cohort and write it (FHIR + hidden ground truth) to a new folder ``out``.

    Returns the folder, whose files and folders get the modes the umask gives. Raises
    :class:`~riskcalc.errors.ConfigError`: ``config.invalid`` if ``out`` exists and is not an
    empty folder, or the arguments are out of range; ``config.output_unwritable`` if ``out``
    cannot be written (permissions, a read-only or full file system).
    """
    target = Path(out)
    params = params or TruthParams()
    patients = iter_patients(n_patients, seed, params=params, chunk_size=chunk_size)
    tmp = _prepare_target(target)
    try:
        with writing(target):
            _write_all(tmp, patients, n_patients, fmt, progress, chunk_size)
        manifest = {
            "generator": "riskcalc.cohort",
            "riskcalc_version": __version__,
            "research_use": RESEARCH_USE_STATEMENT,
            "seed": seed,
            "patients": n_patients,
            "chunk_size": chunk_size,
            "format": fmt.value,
            "fhir_version": "4.0.1",
            "fhir_dir": "fhir",
            "truth_params": dataclasses.asdict(params),
        }
        with writing(target):
            (tmp / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            if target.exists():
                target.rmdir()
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_all(
    tmp: Path,
    patients: Iterator[SimPatient],
    total: int,
    fmt: OutputFormat,
    progress: bool,
    chunk_size: int,
) -> None:
    from tqdm import tqdm

    fhir_dir = tmp / "fhir"
    truth_dir = tmp / "ground_truth"
    fhir_dir.mkdir()
    truth_dir.mkdir()
    files: dict[str, IO[bytes]] = {}
    if fmt is OutputFormat.NDJSON:
        files = {t: open(fhir_dir / f"{t}.ndjson", "wb") for t in RESOURCE_TYPES}  # noqa: SIM115
    pw = pq.ParquetWriter(truth_dir / "patients.parquet", pa.schema(list(PATIENT_COLUMNS.items())))
    ew = pq.ParquetWriter(truth_dir / "episodes.parquet", pa.schema(list(EPISODE_COLUMNS.items())))
    buffer: list[SimPatient] = []
    bar = tqdm(total=total, unit="patient", disable=not progress, desc="simulate")
    try:
        for p in patients:
            resources = patient_resources(p)
            if fmt is OutputFormat.NDJSON:
                for r in resources:
                    files[r["resourceType"]].write(orjson.dumps(r) + b"\n")
            else:
                (fhir_dir / f"Bundle-{p.patient_id}.json").write_bytes(_bundle(p, resources))
            buffer.append(p)
            if len(buffer) >= chunk_size:
                _flush(buffer, pw, ew)
            bar.update(1)
        _flush(buffer, pw, ew)
    finally:
        bar.close()
        pw.close()
        ew.close()
        for f in files.values():
            f.close()


def _flush(buffer: list[SimPatient], pw: pq.ParquetWriter, ew: pq.ParquetWriter) -> None:
    if not buffer:
        return
    patients, episodes = _truth_rows(buffer)
    pw.write_table(patients)
    ew.write_table(episodes)
    buffer.clear()
