"""The public surface is exactly what __all__ lists, and every name in it exists."""

from __future__ import annotations

import riskcalc


def test_all_names_exist() -> None:
    for name in riskcalc.__all__:
        assert hasattr(riskcalc, name), name


def test_all_is_sorted_and_unique() -> None:
    assert len(set(riskcalc.__all__)) == len(riskcalc.__all__)


def test_error_categories_subclass_builtins() -> None:
    assert issubclass(riskcalc.InputError, ValueError)
    assert issubclass(riskcalc.InputError, riskcalc.RiskCalcError)
    assert issubclass(riskcalc.ModelError, RuntimeError)
    err = riskcalc.InputError("input.json_syntax", "bad", location="line 3")
    assert err.code == "input.json_syntax"
    assert "line 3" in str(err)


def test_import_riskcalc_leaves_the_heavy_libraries_unloaded() -> None:
    """pandas, pyarrow and scikit-learn load when used, not on `import riskcalc` (0.5 s saved)."""
    import subprocess
    import sys

    code = (
        "import sys, riskcalc; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
