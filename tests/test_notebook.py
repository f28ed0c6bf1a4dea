"""The quickstart notebook runs end to end and draws its precision/recall figure.

It is executed in a temporary copy with a ``python3`` kernel that runs *this* interpreter, so the
notebook sees the same installed ``mpi`` as the tests.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
KERNEL = "python3"
PR_TAG = "precision-recall"


def _runs_this_python(argv: list[str]) -> bool:
    exe = argv[0] if argv else ""
    # jupyter_client replaces a bare "python"/"python3"/"python3.X" with sys.executable
    bare = {"python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]}
    return exe in bare or os.path.abspath(exe) == os.path.abspath(sys.executable)


@pytest.fixture
def python3_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make sure the ``python3`` kernelspec launches this interpreter.

    On a fresh venv ipykernel's built-in spec already does; if the spec found is missing or points
    at another Python, a spec for this interpreter is written to a temporary Jupyter path that
    takes precedence for this test only (nothing is installed into the user's environment).
    """
    try:
        ok = _runs_this_python(KernelSpecManager().get_kernel_spec(KERNEL).argv)
    except NoSuchKernel:
        ok = False
    if not ok:
        from ipykernel.kernelspec import install
        prefix = tmp_path / "jupyter-prefix"
        install(prefix=str(prefix), kernel_name=KERNEL)
        data_dir = prefix / "share" / "jupyter"
        monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(data_dir),
                                                                          os.environ.get("JUPYTER_PATH")])))
        assert _runs_this_python(KernelSpecManager().get_kernel_spec(KERNEL).argv)
    return KERNEL


def _has_png(cell) -> bool:
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def test_quickstart_notebook_executes(tmp_path: Path, python3_kernel: str) -> None:
    work = tmp_path / "run"
    work.mkdir()
    path = work / NOTEBOOK.name
    shutil.copy(NOTEBOOK, path)
    nb = nbformat.read(path, as_version=4)

    client = NotebookClient(nb, kernel_name=python3_kernel, timeout=300, allow_errors=False,
                            resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError if any cell fails

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "some code cells did not run"
    errors = [out for c in code for out in c.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, errors

    tagged = [c for c in code if PR_TAG in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"expected one code cell tagged {PR_TAG!r}"
    assert _has_png(tagged[0]), "the precision/recall cell produced no figure"
