"""`riskcalc train`, `evaluate` and `recalibrate` as QA ran them: nothing of the user's deleted or
overwritten, a model's folder never written into, horizons checked up front, empty and
unwritable places refused with typed errors, the research-use statement on the terminal."""

from __future__ import annotations

import functools
import os
import shutil
import stat
from pathlib import Path

import pytest

import riskcalc
import riskcalc.model
from riskcalc.cli import main
from riskcalc.cli._train import MAX_HORIZON_MONTHS, parse_horizons
from riskcalc.cohort import write_cohort
from riskcalc.errors import ConfigError
from riskcalc.model import default_model_dir, load_model
from riskcalc.model._oracle import oracle_cohort


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated cohort folder (fhir/, ground_truth/, manifest.json)."""
    return write_cohort(tmp_path_factory.mktemp("sim") / "sim", n_patients=30, seed=3)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A copy of the shipped model."""
    if not (default_model_dir() / "manifest.json").is_file():
        pytest.skip("default model not built (`make model`)")
    return Path(shutil.copytree(default_model_dir(), tmp_path / "victim"))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def _writing_command(command: str, sim: Path, out: str) -> list[str]:
    """The arguments of ``command`` (train, evaluate, recalibrate) on the cohort, to ``out``."""
    return {
        "train": ["train", str(sim / "fhir"), "--out", out, "--horizons", "24"],
        "evaluate": ["evaluate", "default", str(sim / "fhir"), "--out", out],
        "recalibrate": ["recalibrate", "default", str(sim / "fhir"), "--out", out],
    }[command]


def test_train_refuses_a_folder_of_other_files(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: `cp -r sim cc2; riskcalc train local/fhir --out cc2/fhir` deleted the NDJSON files."""
    cc2 = Path(shutil.copytree(sim, tmp_path / "cc2"))
    before = _tree(cc2)
    assert main(["train", str(sim / "fhir"), "--out", str(cc2 / "fhir"), "--horizons", "24"]) == 5
    assert "[config.invalid]" in _err(capsys)
    assert _tree(cc2) == before
    (tmp_path / "afile").write_text("mine")
    assert main(["train", str(sim / "fhir"), "--out", str(tmp_path / "afile")]) == 5
    assert (tmp_path / "afile").read_text() == "mine"


def test_recalibrate_refuses_a_folder_of_other_files(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: `riskcalc recalibrate MODEL local/fhir --out cc3` deleted cc3/notes.txt."""
    (tmp_path / "cc3").mkdir()
    (tmp_path / "cc3" / "notes.txt").write_text("x")
    cmd = ["recalibrate", "default", str(sim / "fhir"), "--out", str(tmp_path / "cc3")]
    assert main(cmd) == 5
    assert "[config.invalid]" in _err(capsys)
    assert (tmp_path / "cc3" / "notes.txt").read_text() == "x"


@pytest.mark.parametrize("where", ["", "figures", "sub"])
def test_evaluate_never_writes_into_a_model(
    sim: Path, victim: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """QA: `riskcalc evaluate victim local/fhir --out victim` replaced metrics.json and the
    figures of the model, after which every load failed with model.hash_mismatch."""
    before = _tree(victim)
    out = victim / where if where else victim
    assert main(["evaluate", str(victim), str(sim / "fhir"), "--out", str(out)]) == 5
    assert "[config.invalid]" in _err(capsys)
    assert _tree(victim) == before
    assert load_model(victim).info.sha256


def test_recalibrate_never_replaces_the_model_it_recalibrates(
    sim: Path, victim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(victim)
    assert main(["recalibrate", str(victim), str(sim / "fhir"), "--out", str(victim)]) == 5
    assert "[config.invalid]" in _err(capsys)
    assert _tree(victim) == before


@pytest.mark.parametrize("command", ["train", "evaluate", "recalibrate"])
def test_no_output_inside_the_cohort(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The reader would take the report's or the model's JSON for FHIR the next time."""
    out = str(sim / "fhir" / "out")
    cmd = _writing_command(command, sim, out)
    assert main(cmd) == 5
    assert "[config.invalid]" in _err(capsys)
    assert not (sim / "fhir" / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--horizons", "0"],
        ["--horizons", "-12"],
        ["--horizons", "1000"],
        ["--horizons", str(MAX_HORIZON_MONTHS + 1)],
        ["--horizons", ""],
        ["--horizons", " , "],
        ["--horizons", "12,x"],
        ["--horizons", "24", "--horizon-months", "12"],
        ["--horizons", "12,36"],
        ["--horizons", "36", "--horizon-months", "0"],
    ],
)
def test_train_checks_horizons_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """QA: 0 and -12 were model.training_failed after reading the cohort; 1000 trained an
    83-year model; "" trained 24 only; a default horizon not among them was added silently.
    The cohort does not exist: the arguments are refused before it is read."""
    cmd = ["train", str(tmp_path / "no-cohort"), "--out", str(tmp_path / "m"), *args]
    assert main(cmd) == 5
    assert "[config.invalid]" in _err(capsys)
    assert not (tmp_path / "m").exists()


def test_parse_horizons() -> None:
    assert parse_horizons("12,24,36,60", None) == ((12, 24, 36, 60), 24)
    assert parse_horizons("60, 12,12", 60) == ((12, 60), 60)
    assert parse_horizons("36", None) == ((36,), 36)  # a single horizon is the default
    assert parse_horizons(str(MAX_HORIZON_MONTHS), None) == ((MAX_HORIZON_MONTHS,), 120)
    with pytest.raises(ConfigError):
        parse_horizons("12,36", None)


@pytest.mark.parametrize("command", ["train", "evaluate", "recalibrate"])
def test_an_empty_cohort_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """QA: `riskcalc history empty_folder` is input.no_patient (exit 3); train, evaluate and
    recalibrate were internal errors."""
    empty = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    out = str(tmp_path / "out")
    cmd = {
        "train": ["train", empty, "--out", out, "--horizons", "24"],
        "evaluate": ["evaluate", "default", empty, "--out", out],
        "recalibrate": ["recalibrate", "default", empty, "--out", out],
    }[command]
    assert main(cmd) == 3
    assert "[input.no_patient]" in _err(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["train", "evaluate", "recalibrate"])
def test_an_unwritable_place_is_a_typed_error(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """QA: `--out /proc/x` was an internal error (exit 70); now refused before any work."""
    (tmp_path / "afile").write_text("mine")
    out = str(tmp_path / "afile" / "out")
    cmd = _writing_command(command, sim, out)
    assert main(cmd) == 5
    assert "[config.output_unwritable]" in _err(capsys)
    assert (tmp_path / "afile").read_text() == "mine"


def test_train_and_recalibrate_print_the_statement(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: `train` and `recalibrate` printed no research-use statement. The oracle cohort (known
    risks, enough events) stands in for the FHIR read, which the other tests cover."""
    monkeypatch.setattr(
        riskcalc.model,
        "read_cohort",
        lambda *a, **k: oracle_cohort(1000, seed=3, horizons_months=(24,)),
    )
    for name in ("train_model", "write_artifact"):  # fewer bootstrap rounds: 60 s → 10 s
        monkeypatch.setattr(
            riskcalc.model, name, functools.partial(getattr(riskcalc.model, name), n_boot=10)
        )
    before = os.umask(0o022)
    try:
        model = tmp_path / "m"
        assert main(["train", str(sim / "fhir"), "--out", str(model), "--horizons", "24"]) == 0
        out = capsys.readouterr().out
        assert f"riskcalc {riskcalc.__version__}" in out and riskcalc.RESEARCH_USE_STATEMENT in out
        assert stat.S_IMODE(model.stat().st_mode) == 0o755  # QA: drwx------
        local = tmp_path / "m-local"
        assert main(["recalibrate", str(model), str(sim / "fhir"), "--out", str(local)]) == 0
        out = capsys.readouterr().out
        assert f"riskcalc {riskcalc.__version__}" in out and riskcalc.RESEARCH_USE_STATEMENT in out
        assert load_model(local).info.version.endswith("+recalibrated")
    finally:
        os.umask(before)


@pytest.mark.parametrize("horizons", [(), (0,), (24, 121)])
def test_the_library_checks_horizons_as_the_cli_does(horizons: tuple[int, ...]) -> None:
    from riskcalc.errors import ConfigError
    from riskcalc.model._oracle import oracle_cohort
    from riskcalc.model._train import train_model

    cohort = oracle_cohort(50, seed=1, horizons_months=(24,))
    with pytest.raises(ConfigError, match="each 1 to 120 months"):
        train_model(cohort, horizons_months=horizons, trained_on="test", simulated=True)
