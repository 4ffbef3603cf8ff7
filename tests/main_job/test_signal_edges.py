"""Signals at the edges of a run: in its first moments (before any claim is imported) and after the
report is published. 130/143 with one line and no traceback while the run is handling signals;
once it is over (summary printed) a signal is ignored and the run's own exit status stands
(here 0). Never a death by the signal (returncode −15)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import verify.__main__
import verify.claims
import verify.report.writer
from tests.main_job.cli_process import ROOT, start_verify, wait_for

SMOKE = ["--smoke", "--only", "foundation", "--executor", "serial"]


def test_sigint_while_the_claims_are_being_discovered_is_a_quiet_130(tmp_path, capsys, monkeypatch):
    def interrupted_discovery() -> list[str]:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
        raise AssertionError("the SIGINT did not stop the run")

    monkeypatch.setattr(verify.claims, "claim_modules", interrupted_discovery)
    assert verify.__main__.main([*SMOKE, "--out", str(tmp_path / "rep")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["interrupted by SIGINT: stopped, workers ended, nothing published"]
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_sigterm_after_publishing_is_143_and_says_the_report_was_published(
    tmp_path, capsys, monkeypatch
):
    def interrupted_summary(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)
        raise AssertionError("the SIGTERM did not stop the run")

    monkeypatch.setattr(verify.report.writer, "print_summary", interrupted_summary)
    out = tmp_path / "rep"
    assert verify.__main__.main([*SMOKE, "--out", str(out)]) == 143
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"interrupted by SIGTERM: stopped after the report was published to {out}"
    assert (out / "results.json").is_file() and (out / "index.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no staging, no lock


def test_a_signal_after_the_handled_block_of_the_program_leaves_its_exit_status():
    code = (
        "import os, signal, sys, time\n"
        "from verify.run.interrupts import handle_signals\n"
        "with handle_signals(until_exit=True):\n"
        "    pass\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.2)\n"
        "print('still running', flush=True)\n"
        "sys.exit(1)  # the run's verdict (here: falsified) stands\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and run.stdout == "still running\n" and run.stderr == ""


@pytest.mark.parametrize("delay", [0.0, 0.1])
def test_sigterm_as_the_report_appears_is_143_or_0_never_a_death_by_the_signal(delay, tmp_path):
    proc = start_verify([*SMOKE, "--out", "rep"], tmp_path)
    assert wait_for(lambda: (tmp_path / "rep").is_dir(), timeout=120, interval=0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    print(f"SIGTERM {delay:.2f} s after publishing: exit {proc.returncode}")
    assert proc.returncode in (0, 143), (proc.returncode, err)
    assert "Traceback" not in err
    if proc.returncode == 143:
        assert "stopped after the report was published to rep" in err.strip().splitlines()[-1]
    assert (tmp_path / "rep" / "results.json").is_file()


def test_a_signal_during_publishing_is_raised_once_the_report_is_in_place():
    from verify.run.interrupts import Interrupted, deferred_signals, handle_signals, mark_published

    reached = []
    with pytest.raises(Interrupted) as stopped:
        with handle_signals(), deferred_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler ran meanwhile, and did not raise
            reached.append("published")
            mark_published("rep")
    assert reached == ["published"]
    assert stopped.value.signum == signal.SIGTERM and stopped.value.published == "rep"
