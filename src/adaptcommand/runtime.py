"""What every rule script does around the library call: log to the rule's log file, set threads, and
stop when the Snakemake process that started the job is gone.

A job of a killed Snakemake (kill -9, a lost login session, the out-of-memory killer) would otherwise
go on as an orphan and write its outputs next to the re-run (a GPU training for hours). Reading the
Snakefile (rules/common.smk) calls `mark_workflow_process()`: the jobs that process starts inherit its
identity (pid, start time, boot and pid namespace) in ADAPTCOMMAND_WORKFLOW. `rule_context` then
- exits at once, before the job writes anything, if that process is already gone (it died while
  the job imported torch);
- asks the kernel for SIGTERM when its parent dies (Linux PR_SET_PDEATHSIG, where the parent is that
  process itself) and checks every second from a watchdog thread that the process is still there
  (through intermediate processes too): SIGTERM, then SIGKILL 5 s later;
- turns SIGTERM into an exception, so the atomic writers remove their temporary files and no
  final output appears.
On a Slurm cluster the jobs are Slurm's and outlive the Snakemake on the login node by design (scancel).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

# Set before torch / transformers / huggingface_hub are imported by the scripts.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# torch's OpenMP threads sleep when they wait instead of spinning first: a job of 2 threads beside
# another job on 2 cores (the test suite; a shared workstation) otherwise burns the core its partner
# thread waits for. Two demo-base builds at once: 86 s each -> 42 s; alone 5% slower (1.05x wall)
# (benchmarks/README.md, thread_contention.py). A value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

log = logging.getLogger("adaptcommand")

WORKFLOW_ENV = "ADAPTCOMMAND_WORKFLOW"
# Seconds between the watchdog's checks, and from its SIGTERM to its SIGKILL.
WATCH_INTERVAL_S = 1.0
KILL_AFTER_S = 5.0
_PR_SET_PDEATHSIG = 1


class WorkflowGone(SystemExit):
    """The Snakemake process that started this job is gone: the job stops without writing."""


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3... of /proc/<pid>/stat (state, ppid, ...; field 22 = start time is index 19), or None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _pid_namespace() -> str:
    """This machine's boot and this process's pid namespace: pids are only comparable where both match
    (a Slurm job on another node inherits the login node's environment)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            boot = handle.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def process_identity(pid: int) -> str:
    """``pid:start time:boot/pid namespace`` of a live process (Linux; elsewhere the pid alone)."""
    stat = _proc_stat(pid)
    return f"{pid}:{stat[19] if stat else ''}:{_pid_namespace()}"


def mark_workflow_process() -> None:
    """Called where Snakemake reads the Snakefile (rules/common.smk): the jobs this process starts
    inherit its identity and stop when it is gone (see the module doc)."""
    os.environ[WORKFLOW_ENV] = process_identity(os.getpid())


def workflow_alive(identity: str) -> bool | None:
    """Whether the process of `identity` (`process_identity`) still runs; None when this process
    cannot tell (another pid namespace, e.g. a container with its own, or no /proc)."""
    pid, start, namespace = (identity.split(":", 2) + ["", ""])[:3]
    if not start or not namespace or namespace != _pid_namespace():
        return None
    stat = _proc_stat(int(pid))
    return stat is not None and stat[19] == start and stat[0] not in ("Z", "X")


def _ask_parent_death_signal(sig: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel for `sig` when this process's parent dies (Linux; a forked worker of a job)."""
    _ask_parent_death_signal(sig)


def _stop(signum, frame):
    # Once only: the parent-death signal and the watchdog both send SIGTERM, often within a second; a
    # second WorkflowGone raised inside the first one's cleanup (its log line, the atomic writers'
    # removal of temporary files) would cut that cleanup short. The watchdog's SIGKILL stays the backstop.
    signal.signal(signal.SIGTERM, _ignore)
    raise WorkflowGone(f"stopped by signal {signum}: the Snakemake process of this job is gone or stopped it")


def _ignore(signum, frame):
    """SIGTERM after the first: the job is already stopping. (A handler, not SIG_IGN, which the
    processes the job starts while stopping would inherit.)"""


def _watch(identity: str) -> None:
    while workflow_alive(identity):
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(KILL_AFTER_S)
    os.kill(os.getpid(), signal.SIGKILL)


def stop_with_workflow() -> None:
    """Make this job stop when the Snakemake process that started it is gone (module doc); nothing
    outside a workflow job (no ADAPTCOMMAND_WORKFLOW) or where it cannot be told."""
    identity = os.environ.get(WORKFLOW_ENV, "")
    if not identity or workflow_alive(identity) is None:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    if identity.split(":", 1)[0] == str(os.getppid()):  # started by that process itself
        _ask_parent_death_signal(signal.SIGTERM)
    if not workflow_alive(identity):
        raise WorkflowGone("the Snakemake process that started this job is gone: stopped before writing")
    threading.Thread(target=_watch, args=(identity,), name="workflow-watchdog", daemon=True).start()


@contextlib.contextmanager
def rule_context(snakemake) -> Iterator[logging.Logger]:
    """Send stdout/stderr (progress bars included) to the rule's log and use the rule's threads.

    An exception is logged with its traceback and re-raised, so Snakemake marks the job failed and
    removes its outputs. The job stops when the Snakemake process that started it is gone
    (`stop_with_workflow`).
    """
    log_path = snakemake.log[0] if len(snakemake.log) else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr  # noqa: SIM115
    with contextlib.ExitStack() as stack:
        if log_path:
            stack.enter_context(stream)
            stack.enter_context(contextlib.redirect_stdout(stream))
            stack.enter_context(contextlib.redirect_stderr(stream))
        logging.basicConfig(
            stream=stream, level=logging.INFO, force=True, format="%(asctime)s %(levelname)s %(message)s"
        )
        threads = max(1, int(snakemake.threads))
        os.environ["OMP_NUM_THREADS"] = str(threads)  # for a torch imported later in the job
        if "torch" in sys.modules:  # CPU-only rules never import torch: ~5 s saved per job
            sys.modules["torch"].set_num_threads(threads)
        start = time.perf_counter()
        log.info(
            "rule %s, wildcards %s, threads %s", snakemake.rule, dict(snakemake.wildcards), snakemake.threads
        )
        try:
            stop_with_workflow()
            yield log
        except BaseException:
            log.exception("rule %s failed", snakemake.rule)
            raise
        log.info("done in %.1f s", time.perf_counter() - start)
