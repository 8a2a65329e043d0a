"""The partitioned reader gives what the in-process reader gives (no cluster: a synchronous client).

The Dask tests (test_scale_dask.py) check the same on a real LocalCluster; these run fast and
cover the awkward inputs: BOM, bad lines, duplicates, reference forms, patients not in the
input, a reference chain, shared Medications, export logs, a depth failure that only shows
across ranges, Bundles beside NDJSON.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
from pathlib import Path

import pytest
from scale_helpers import TODAY, SyncClient, _condition, _lines, tile_bulk

from riskcalc.fhir import read_histories
from riskcalc.fhir._partition import (
    Piece,
    history_from_resources,
    partition_of,
    plan_folder,
    route_key,
)
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.scale import Tuning, histories_dask


def _dask(
    source: Path | str, client: SyncClient, **tuning: int
) -> list[PatientHistory | ReadFailure]:
    return list(histories_dask(source, scheduler=client, today=TODAY, tuning=Tuning(**tuning)))


def test_edge_folder_same_histories_as_reader(edge_folder: Path, sync_client: SyncClient) -> None:
    expected = list(read_histories(edge_folder, today=TODAY))
    # the folder exercises what it claims to
    codes = {i.code for h in expected if isinstance(h, PatientHistory) for i in h.warnings}
    assert {"ndjson.bad_line", "resource.other_patient", "resource.unresolved_subject"} <= codes
    messages = {i.message for h in expected if isinstance(h, PatientHistory) for i in h.warnings}
    assert "line nests 70 levels deep; the limit is 64 (Limits.max_depth); not read" in messages
    for tuning in (
        {},
        {"chunk_bytes": 64, "n_partitions": 3},
        {"chunk_bytes": 500, "n_partitions": 1},
    ):
        assert _dask(edge_folder, SyncClient(), **tuning) == expected, tuning


def test_bulk_export_ranges_and_partitions_do_not_matter(fixtures: Path) -> None:
    src = fixtures / "smart-bulk-10"
    expected = list(read_histories(src, today=TODAY))
    assert len(expected) >= 10
    got = _dask(src, SyncClient(), chunk_bytes=200_000, n_partitions=5)
    assert got == expected


def test_bundles_and_single_files(fixtures: Path, tmp_path: Path) -> None:
    folder = fixtures / "nimbus" / "synthea-covid"
    assert _dask(folder, SyncClient(), json_batch_bytes=1) == list(
        read_histories(folder, today=TODAY)
    )
    one = (
        tile_bulk(fixtures / "smart-bulk-10", tmp_path / "t", 1, skip=("Doc",))
        / "Condition.000.ndjson"
    )
    assert _dask(one, SyncClient(), chunk_bytes=10_000) == list(read_histories(one, today=TODAY))


def test_simulated_cohort(tmp_path: Path) -> None:
    from riskcalc.cohort import fhir_dir, write_cohort

    src = fhir_dir(write_cohort(tmp_path / "c", n_patients=60, seed=3))
    expected = list(read_histories(src, today=TODAY))
    assert len(expected) == 60
    assert _dask(src, SyncClient(), chunk_bytes=20_000, n_partitions=4) == expected


def test_patient_without_id_falls_back_to_reading_the_pool_whole(edge_folder: Path) -> None:
    with (edge_folder / "Patient.ndjson").open("ab") as fh:
        fh.write(b'{"resourceType": "Patient", "gender": "male"}\n')
    expected = list(read_histories(edge_folder, today=TODAY))
    client = SyncClient()
    assert _dask(edge_folder, client, chunk_bytes=300) == expected
    assert any("pool-whole" in k for k in client.keys)


def test_export_without_patients_is_one_failure_as_in_reader(edge_folder: Path) -> None:
    (edge_folder / "Patient.ndjson").unlink()
    expected = list(read_histories(edge_folder, today=TODAY))
    assert any(isinstance(h, ReadFailure) and h.code == "input.no_patient" for h in expected)
    assert _dask(edge_folder, SyncClient(), chunk_bytes=300) == expected


def test_plan_ranges_cover_each_file_on_line_ends(edge_folder: Path) -> None:
    plan = plan_folder(edge_folder, chunk_bytes=100)
    for index, path in enumerate(plan.ndjson_files):
        data = Path(path).read_bytes()
        ranges = [c for c in plan.chunks if c.file_index == index]
        assert ranges[0].start == 0 and ranges[-1].stop is None
        for a, b in itertools.pairwise(ranges):
            assert a.stop == b.start and data[b.start - 1 : b.start] == b"\n"


def test_route_key_and_partition() -> None:
    assert route_key("Patient/abc") == "abc"
    assert route_key("https://h/fhir/Patient/abc/_history/3") == "abc"
    assert route_key("urn:uuid:6f1c") == "6f1c"
    assert route_key("Group/abc") is None
    assert partition_of("abc", 7) == partition_of("abc", 7) < 7


def test_history_from_resources_matches_reader(fixtures: Path, tmp_path: Path) -> None:
    import orjson

    src = tile_bulk(fixtures / "smart-bulk-10", tmp_path / "one", 1, skip=("Doc", "log"))
    first = next(h for h in read_histories(src, today=TODAY) if isinstance(h, PatientHistory))
    patient = next(
        r
        for r in map(orjson.loads, (src / "Patient.000.ndjson").read_bytes().splitlines())
        if r["id"] == first.patient_id
    )
    mine = []
    for path in sorted(src.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            r = orjson.loads(line)
            if r["resourceType"] != "Patient" and first.patient_id in line.decode():
                mine.append(r)
    built = history_from_resources(patient, mine, today=TODAY)
    assert isinstance(built, PatientHistory)
    assert built.model_dump(exclude={"warnings"}) == first.model_dump(exclude={"warnings"})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_scores_identical_to_in_process(edge_folder: Path, tmp_path: Path, suffix: str) -> None:
    model = _model_or_skip()
    from riskcalc.report import score_cohort
    from riskcalc.scale import score_cohort_dask

    as_of = dt.date(2026, 6, 1)
    a, b = tmp_path / f"local{suffix}", tmp_path / f"dask{suffix}"
    ra = score_cohort(edge_folder, a, as_of=as_of, model=model)
    rb = score_cohort_dask(
        edge_folder,
        b,
        as_of=as_of,
        model=model,
        scheduler=SyncClient(),
        tuning=Tuning(chunk_bytes=300, n_partitions=3),
    )
    assert ra == rb and rb.balanced
    assert a.read_bytes() == b.read_bytes()
    ea, eb = (p.with_name(f"{p.stem}.errors{suffix}") for p in (a, b))
    assert ea.read_bytes() == eb.read_bytes()


def test_progress_comes_part_by_part(edge_folder: Path, tmp_path: Path) -> None:
    """A progress bar fed by ``on_progress`` moves as each part of the work comes back (the JSON
    batch, each of the export's partitions), not once when the merged rows are written: the
    edge folder's 7 patients are fewer than one chunk of the writer."""
    model = _model_or_skip()
    from riskcalc.scale import score_cohort_dask

    calls: list[int] = []
    rec = score_cohort_dask(
        edge_folder,
        tmp_path / "scores.csv",
        as_of=dt.date(2026, 6, 1),
        model=model,
        scheduler=SyncClient(),
        tuning=Tuning(chunk_bytes=300, n_partitions=3),
        on_progress=calls.append,
    )
    assert len(calls) >= 3
    assert sum(calls) == rec.read


def _model_or_skip():  # type: ignore[no-untyped-def]
    from riskcalc.errors import RiskCalcError

    try:
        from riskcalc.model import load_model

        return load_model()
    except (RiskCalcError, ImportError, OSError) as exc:  # the model is being built
        pytest.skip(f"no default model yet: {exc}")


def test_task_bodies_run_with_the_collector_paused_and_restore_it() -> None:
    import gc

    from riskcalc.scale._engine import _collector_paused

    @_collector_paused
    def body(x: int) -> tuple[int, bool]:
        return x + 1, gc.isenabled()

    assert body(1) == (2, False)
    assert gc.isenabled()


def test_results_reach_the_driver_as_one_buffer_and_come_back_equal(fixtures: Path) -> None:
    import gc

    from riskcalc.scale._engine import _received, _to_driver

    histories = list(read_histories(fixtures / "smart-bulk-10", today=TODAY))

    @_to_driver
    def body(n: int) -> list[PatientHistory | ReadFailure]:
        return histories[:n]

    blob = body(len(histories))
    assert isinstance(blob, bytes)
    assert _received(blob) == histories
    assert gc.isenabled()


def test_bundle_lines_in_ndjson_keep_their_entries_locations(tmp_path: Path) -> None:
    """An NDJSON line holding a Bundle: its entries are routed one by one, and each keeps its
    fullUrl and its location (``file:line#entry[k].resource``) through the packed pieces."""
    root = tmp_path / "bulk"
    root.mkdir()
    patient = {"resourceType": "Patient", "gender": "female", "birthDate": "1950-01-01"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:b1", "resource": {**patient, "id": "b1"}},
            {
                "resource": {
                    "resourceType": "Florp",
                    "id": "f1",
                    "subject": {"reference": "urn:uuid:b1"},
                }
            },
            {
                "fullUrl": "urn:uuid:bc1",
                "resource": _condition("bc1", {"subject": {"reference": "urn:uuid:b1"}}),
            },
        ],
    }
    (root / "Patient.ndjson").write_bytes(_lines({**patient, "id": "p2"}, bundle))
    (root / "Condition.ndjson").write_bytes(
        _lines(_condition("c2", {"subject": {"reference": "Patient/p2"}}))
    )
    expected = list(read_histories(root, today=TODAY))
    sources = {w.source for h in expected if isinstance(h, PatientHistory) for w in h.warnings}
    assert any(s and s.endswith("Patient.ndjson:2#entry[1].resource") for s in sources), sources
    assert len(expected) == 2
    for n in (1, 2, 3):
        assert _dask(root, SyncClient(), chunk_bytes=64, n_partitions=n) == expected, n


def test_piece_packs_its_resources_and_survives_pickling() -> None:
    piece = Piece(chunk_id=4)
    piece.add(1, "", None, b'{"resourceType":"Patient","id":"a"}')
    piece.add(7, "#entry[2].resource", "urn:uuid:x", b'{"resourceType":"Condition","id":"c"}')
    piece.add(9, "", None, b"{}")
    piece.pack()
    moved = pickle.loads(pickle.dumps(piece))
    assert len(moved) == 3 and moved.chunk_id == 4
    assert list(moved.resources()) == [
        (1, "", None, b'{"resourceType":"Patient","id":"a"}'),
        (7, "#entry[2].resource", "urn:uuid:x", b'{"resourceType":"Condition","id":"c"}'),
        (9, "", None, b"{}"),
    ]
    empty = Piece(chunk_id=0)
    empty.pack()
    assert len(empty) == 0 and list(empty.resources()) == []
