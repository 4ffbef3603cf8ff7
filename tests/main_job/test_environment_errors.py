"""Environment errors exit 2 with one line (never 1, which means *falsified*), before any claim runs
where they can be known up front, and the previous report stays intact: a full disk (a real
small tmpfs when it can be mounted, else a simulated ``ENOSPC``), over-long names, bad hosts,
``--out .`` / ``--out DIR/..``, a NUL byte, too many workers."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import verify.__main__
import verify.run.runner
from tests.main_job.cli_process import staging_folders, start_verify, wait_for
from verify.run.staging import MIN_FREE_BYTES, TOOL

UP_FRONT_BOUND = 5.0  # seconds: refusals known before the run come at once (no claim runs)


def _previous_report(out: Path) -> str:
    """A minimal report folder as this tool writes it; returns its results.json text."""
    out.mkdir(parents=True)
    text = json.dumps({"tool": TOOL, "marker": "the previous report"})
    (out / "results.json").write_text(text)
    return text


def _refused(argv: list[str], capsys) -> tuple[str, float]:
    start = time.monotonic()
    code = verify.__main__.main(argv)
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    assert elapsed <= UP_FRONT_BOUND, elapsed
    print(f"{argv[-1][:30]!r}: exit {code} in {elapsed:.2f} s: {err[0][:100]}")
    return err[0], elapsed


SMOKE = ["--smoke", "--only", "foundation", "--executor", "serial"]


@pytest.mark.parametrize(
    ("parts", "message"),
    [(("x" * 300, "sub"), "has 300 bytes, over the file system's 255"),
     (("y" * 250,), "the staging folder's suffix")],  # fits, but its staging folder would not
)  # fmt: skip
def test_an_over_long_out_name_is_refused_up_front(parts, message, tmp_path, capsys):
    line, _ = _refused([*SMOKE, "--out", str(tmp_path.joinpath(*parts))], capsys)
    assert message in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", [".", "sub/..", "/"])
def test_out_that_is_not_a_folder_name_is_refused_up_front(out, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    line, _ = _refused([*SMOKE, "--out", out], capsys)
    assert "the path must end in a folder name" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--executor", "dask://a..b:8786"], "expected a host name or IPv4 address"),
     (["--executor", f"dask://{'h' * 64}:8786"], "expected a host name"),
     (["--out", "rep\0ort"], "NUL byte"),
     (["--workers", "100000000"], "expected an integer from 1 to")],
)  # fmt: skip
def test_bad_hosts_nul_bytes_and_too_many_workers_are_one_line_exit_2(argv, message, capsys):
    line, _ = _refused(["--smoke", "--only", "foundation", *argv], capsys)
    assert message in line and "Traceback" not in line


def test_a_host_idna_cannot_encode_is_an_executor_error_not_a_unicode_error():
    from verify.run.dask_executor import ExecutorError, probe_dask_scheduler

    with pytest.raises(ExecutorError, match="UnicodeError"):
        probe_dask_scheduler("tcp://a..b:8786", 1.0)  # past the spec check: the probe itself


def test_a_full_disk_when_writing_the_report_is_exit_2_and_the_old_report_intact(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "rep"
    before = _previous_report(out)

    def full_disk(folder: Path, results: dict) -> None:
        (folder / "index.md").write_text("partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "index.html"))

    monkeypatch.setattr(verify.run.runner, "write_report", full_disk)
    code = verify.__main__.main([*SMOKE, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "No space left on device" in err[-1], err
    assert "previous report is intact" in err[-1] and "Traceback" not in "\n".join(err)
    assert (out / "results.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no staging, no lock left


@pytest.fixture
def small_tmpfs(tmp_path):
    """A tmpfs of ``MIN_FREE_BYTES`` + 2 MiB mounted at a fresh folder (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    size = MIN_FREE_BYTES + 2 * 2**20
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                         capture_output=True, text=True)  # fmt: skip
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_nearly_full_disk_is_refused_before_the_run(small_tmpfs, capsys):
    (small_tmpfs / "filler").write_bytes(bytes(3 * 2**20))  # leaves less than MIN_FREE_BYTES
    line, _ = _refused([*SMOKE, "--out", str(small_tmpfs / "rep")], capsys)
    assert "MiB free on its file system" in line
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["filler"]


def test_a_disk_that_fills_up_during_the_run_is_exit_2_with_the_old_report_intact(small_tmpfs):
    out = small_tmpfs / "rep"
    before = _previous_report(out)
    proc = start_verify([*SMOKE, "--out", str(out)],
                        small_tmpfs)  # fmt: skip
    assert wait_for(lambda: staging_folders(small_tmpfs, "rep"), timeout=60)
    with open(small_tmpfs / "filler", "wb", buffering=0) as filler:  # fill it while the run runs
        try:
            while True:
                filler.write(bytes(2**20))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    start = time.monotonic()
    _, err = proc.communicate(timeout=300)
    elapsed = time.monotonic() - start
    print(f"disk full during the run: exit {proc.returncode}, {elapsed:.1f} s after filling")
    lines = err.strip().splitlines()
    assert proc.returncode == 2, err
    assert "No space left on device" in lines[-1] and "Traceback" not in err
    assert (out / "results.json").read_text() == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["filler", "rep"]
