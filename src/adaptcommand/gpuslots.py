"""Give each concurrently running local GPU job its own GPU.

Snakemake's ``resources: gpu=1`` (with ``--resources gpu=N``) only limits how many GPU jobs run at
once; it assigns no device ids, so without help N concurrent jobs would all use GPU 0. Rule scripts
therefore wrap their GPU work in :func:`gpu_slot`::

    from adaptcommand.gpuslots import gpu_slot

    with gpu_slot() as device:  # BEFORE anything initialises CUDA
        import torch  # (importing torch earlier is fine; touching CUDA is not)

        torch_device = "cuda" if device is not None and torch.cuda.is_available() else "cpu"
        ...

How a slot is chosen:

1. ``CUDA_VISIBLE_DEVICES`` already set (Slurm sets it for ``--gpus``/``--gres`` jobs, or the user
   did): it is left alone and its value is yielded.
2. Number of slots: the ``n_slots`` argument, else env ``ADAPTCOMMAND_GPU_SLOTS``, else (inside a
   Slurm job that got no GPU: 0) ``torch.cuda.device_count()``.
3. 0 slots: yields ``None`` (run on CPU); the environment is not changed.
4. Otherwise an exclusive, non-blocking ``fcntl.flock`` is taken on ``<lock_dir>/gpu{i}.lock`` for the
   first free ``i`` (polling every ``poll`` seconds, at most ``timeout`` seconds, then
   :class:`GpuSlotTimeout`), ``CUDA_VISIBLE_DEVICES=i`` is set for the duration of the block and the
   previous value restored afterwards; the lock is released on exit, also on an exception (and by
   the kernel if the process dies, so locks never go stale).

CUDA reads ``CUDA_VISIBLE_DEVICES`` once, when the CUDA driver is initialised in the process, so
:func:`gpu_slot` must be entered before torch initialises CUDA (the first ``.cuda()``/``.to("cuda")``,
``torch.cuda.is_available()`` on some set-ups, ...). It raises ``RuntimeError`` if torch reports CUDA
as already initialised. ``torch.cuda.device_count()`` itself uses NVML and does not initialise CUDA;
on a machine without NVML it falls back to a CUDA call, so set ``ADAPTCOMMAND_GPU_SLOTS`` there.

The lock directory (env ``ADAPTCOMMAND_GPU_LOCK_DIR``, default ``.snakemake/gpu-slots`` under the
current directory, i.e. the Snakemake working directory) must be on a local file system shared by
all jobs of the run; slots are per machine, so it is meant for local (non-cluster) execution.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["GpuSlotTimeout", "default_lock_dir", "detect_slots", "gpu_slot"]

ENV_SLOTS = "ADAPTCOMMAND_GPU_SLOTS"
ENV_LOCK_DIR = "ADAPTCOMMAND_GPU_LOCK_DIR"
ENV_TIMEOUT = "ADAPTCOMMAND_GPU_SLOT_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0

log = logging.getLogger(__name__)


class GpuSlotTimeout(TimeoutError):
    """No GPU slot became free within the timeout."""


def default_lock_dir() -> Path:
    """``$ADAPTCOMMAND_GPU_LOCK_DIR`` or ``<cwd>/.snakemake/gpu-slots``."""
    env = os.environ.get(ENV_LOCK_DIR)
    return Path(env) if env else Path.cwd() / ".snakemake" / "gpu-slots"


def _torch_device_count() -> int:
    try:
        import torch  # lazy: importing torch costs seconds and is not needed for the env logic
    except ImportError:
        return 0
    return int(torch.cuda.device_count())


def detect_slots() -> int:
    """Number of local GPU slots: ``$ADAPTCOMMAND_GPU_SLOTS``, else the number of visible GPUs.

    Inside a Slurm job without ``CUDA_VISIBLE_DEVICES`` (no GPU allocated to it) this is 0: the
    GPUs a node's NVML reports there belong to other jobs.
    """
    env = os.environ.get(ENV_SLOTS, "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"{ENV_SLOTS} must be a non-negative integer, got {env!r}") from None
        if n < 0:
            raise ValueError(f"{ENV_SLOTS} must be a non-negative integer, got {env!r}")
        return n
    if "SLURM_JOB_ID" in os.environ and "CUDA_VISIBLE_DEVICES" not in os.environ:
        return 0
    return _torch_device_count()


def _check_cuda_not_initialised() -> None:
    torch = sys.modules.get("torch")  # only if the caller already imported it
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError(
            "gpu_slot() entered after torch initialised CUDA: CUDA_VISIBLE_DEVICES would have no "
            "effect. Enter gpu_slot() before the first CUDA call of the process."
        )


def _try_lock(path: Path) -> int | None:
    """Open ``path`` and take a non-blocking exclusive flock; return the fd or None if held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    # note who holds it (debugging aid only; the lock is the flock, not the content)
    os.ftruncate(fd, 0)
    os.write(fd, f"pid={os.getpid()} host={socket.gethostname()} since={time.time():.3f}\n".encode())
    return fd


@contextlib.contextmanager
def gpu_slot(
    n_slots: int | None = None,
    lock_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float | None = None,
    poll: float = 0.05,
) -> Iterator[str | None]:
    """Hold one local GPU for the duration of the ``with`` block.

    Yields the value of ``CUDA_VISIBLE_DEVICES`` in effect inside the block (a device index such as
    ``"1"``, or whatever was set before), or ``None`` when there is no GPU slot (run on CPU).

    Args:
        n_slots: number of GPUs to share out; ``None`` = :func:`detect_slots`.
        lock_dir: directory of the ``gpu{i}.lock`` files; ``None`` = :func:`default_lock_dir`.
        timeout: seconds to wait for a free slot before raising :class:`GpuSlotTimeout`;
            ``None`` = env ``ADAPTCOMMAND_GPU_SLOT_TIMEOUT`` or 600. Waiting at all means more
            GPU jobs run at once than there are slots (``--resources gpu=N`` larger than the
            number of GPUs, or several Snakemake runs sharing the lock directory).
        poll: seconds between attempts while all slots are taken.
    """
    preset = os.environ.get("CUDA_VISIBLE_DEVICES")
    if preset is not None:
        log.info("gpu_slot: CUDA_VISIBLE_DEVICES=%r already set, leaving it alone", preset)
        yield preset
        return

    slots = detect_slots() if n_slots is None else int(n_slots)
    if slots <= 0:
        log.info("gpu_slot: no GPU slots, running on CPU")
        yield None
        return

    _check_cuda_not_initialised()
    if timeout is None:
        timeout = float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT_S))
    directory = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    directory.mkdir(parents=True, exist_ok=True)

    deadline = time.monotonic() + timeout
    fd: int | None = None
    slot = -1
    while fd is None:
        for i in range(slots):
            fd = _try_lock(directory / f"gpu{i}.lock")
            if fd is not None:
                slot = i
                break
        else:
            if time.monotonic() >= deadline:
                raise GpuSlotTimeout(
                    f"no free GPU slot among {slots} in {directory} after {timeout:g} s: more GPU "
                    f"jobs run at once than there are GPUs. Lower --resources gpu=N to the number "
                    f"of GPUs, or set {ENV_SLOTS} / {ENV_TIMEOUT}."
                )
            time.sleep(poll)

    os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    log.info("gpu_slot: acquired GPU %d (%s)", slot, directory)
    try:
        yield str(slot)
    finally:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)  # it was unset before (preset is None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        log.info("gpu_slot: released GPU %d", slot)
