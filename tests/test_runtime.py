"""A rule job stops when the Snakemake process that started it is gone (adaptcommand.runtime).

Processes stand in for Snakemake and its job here (the job enters `rule_context` as every rule script
does); tests/test_crash_recovery.py kills a real Snakemake during a real job.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from adaptcommand import runtime

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc")

# A job: enters rule_context like a rule script, says so, then would write its output after a while.
JOB = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from types import SimpleNamespace
    from adaptcommand.runtime import rule_context

    out = Path(sys.argv[1])
    job = SimpleNamespace(log=[str(out) + ".log"], threads=1, rule="job", wildcards={})
    with rule_context(job):
        print("inside", file=sys.__stdout__, flush=True)
        time.sleep(float(sys.argv[2]))
        out.write_text("written")
    """
)

# Snakemake's stand-in: marks itself as the workflow process, starts the job (directly, or through
# a shell that stays in between), prints the job's pid and waits.
WORKFLOW = textwrap.dedent(
    """
    import subprocess, sys, time
    from adaptcommand.runtime import mark_workflow_process

    mark_workflow_process()
    job, out, through_shell = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    cmd = [sys.executable, "-c", job, out, "60"]
    if through_shell:  # `sh -c "...; true"` does not exec: the job's parent is the shell
        cmd = ["sh", "-c", " ".join(f"'{c}'" for c in cmd) + "; true"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    print(proc.pid, flush=True)
    print(proc.stdout.readline().strip(), flush=True)
    time.sleep(120)
    """
)


def _job_process(parent: psutil.Process) -> psutil.Process:
    for child in parent.children(recursive=True):
        if "-c" in child.cmdline() and child.name().startswith("python"):
            return child
    raise AssertionError("no job process")


@pytest.mark.parametrize("through_shell", [False, True], ids=["child", "grandchild"])
def test_a_job_stops_when_its_workflow_process_is_killed(tmp_path, through_shell):
    """kill -9 of the workflow process: its job (inside rule_context) is gone within seconds and its
    output never appears: at once through the kernel (parent-death signal) when Snakemake is its
    parent, within the watchdog's second plus the SIGTERM grace otherwise."""
    out = tmp_path / "out.txt"
    workflow = subprocess.Popen(
        [sys.executable, "-c", WORKFLOW, JOB, str(out), "1" if through_shell else "0"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        job_pid = int(workflow.stdout.readline())
        assert workflow.stdout.readline().strip() == "inside"
        job = psutil.Process(job_pid) if not through_shell else _job_process(psutil.Process(workflow.pid))
        os.kill(workflow.pid, signal.SIGKILL)
        workflow.wait(timeout=10)
        started = time.monotonic()
        gone, alive = psutil.wait_procs([job], timeout=15)
        assert not alive, "the job outlived its workflow process"
        took = time.monotonic() - started
        assert took < (5 if not through_shell else 15), took  # seconds, on a loaded 2-core machine
        time.sleep(1)
        assert not out.exists(), "the job wrote its output"
        assert "WorkflowGone" in Path(str(out) + ".log").read_text()
    finally:
        try:
            os.killpg(workflow.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_job_of_a_workflow_already_gone_writes_nothing(tmp_path):
    """Snakemake died while the job was still importing: entering rule_context ends the job at once,
    before its body runs."""
    gone = subprocess.Popen(["sleep", "30"])
    identity = runtime.process_identity(gone.pid)
    gone.kill()
    gone.wait()
    assert runtime.workflow_alive(identity) is False
    out = tmp_path / "out.txt"
    proc = subprocess.run(
        [sys.executable, "-c", JOB, str(out), "0"],
        env={**os.environ, runtime.WORKFLOW_ENV: identity},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "inside" not in proc.stdout
    assert "the Snakemake process that started this job is gone" in proc.stderr
    assert not out.exists()


def test_outside_a_workflow_nothing_changes(tmp_path):
    """No workflow identity (a script run by hand, a test): rule_context neither watches nor stops."""
    env = {k: v for k, v in os.environ.items() if k != runtime.WORKFLOW_ENV}
    out = tmp_path / "out.txt"
    proc = subprocess.run(
        [sys.executable, "-c", JOB, str(out), "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "written"
    assert runtime.workflow_alive(runtime.process_identity(os.getpid())) is True
    assert runtime.workflow_alive("1:2:another-boot/pid:[0]") is None  # another machine: cannot tell


def test_a_burst_of_sigterms_still_logs_why_the_job_stopped(tmp_path):
    """The parent-death signal and the watchdog each send SIGTERM, often within a millisecond of each
    other on a loaded machine: the second must not cut short the first one's cleanup, which logs
    WorkflowGone with its traceback (CI lost that line once; before the fix most bursts lost it)."""
    holder = subprocess.Popen(["sleep", "120"])  # stands in for a Snakemake that is still alive
    env = {**os.environ, runtime.WORKFLOW_ENV: runtime.process_identity(holder.pid)}
    try:
        for i in range(5):
            out = tmp_path / f"out{i}.txt"
            job = subprocess.Popen(
                [sys.executable, "-c", JOB, str(out), "60"], stdout=subprocess.PIPE, text=True, env=env
            )
            assert job.stdout.readline().strip() == "inside"
            for _ in range(3):
                job.send_signal(signal.SIGTERM)
            assert job.wait(timeout=30) != 0
            assert not out.exists(), "the job wrote its output"
            text = Path(str(out) + ".log").read_text()
            assert "WorkflowGone" in text and "rule job failed" in text, text
    finally:
        holder.kill()


def test_rule_jobs_let_waiting_openmp_threads_sleep():
    """OMP_WAIT_POLICY=PASSIVE is set before torch loads its OpenMP (which reads it then) in every rule
    job, unless the user set a policy (benchmarks/thread_contention.py: two 2-thread jobs on 2 cores)."""
    probe = (
        "import adaptcommand.gpuslots, adaptcommand.runtime, os, sys; "
        "print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "False"]  # set, and torch not loaded yet
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE", "False"]
    # In every rule script, torch is not loaded yet where adaptcommand.runtime is imported.
    scripts = (Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py")
    for script in sorted(s for s in scripts if "rule_context" in s.read_text()):
        tree = ast.parse(script.read_text())
        imports = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        before = imports[: next(i for i, ln in enumerate(imports) if "adaptcommand.runtime" in ln)]
        probe = "\n".join([*before, "import sys", "print('torch' in sys.modules)"])
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "False", f"{script.name} imports torch before adaptcommand.runtime"
