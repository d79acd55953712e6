"""What every rule script does around the library call: log to the rule's log file, set threads."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

# Set before transformers / huggingface_hub are imported by the scripts.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

log = logging.getLogger("adaptcommand")


@contextlib.contextmanager
def rule_context(snakemake) -> Iterator[logging.Logger]:
    """Send stdout/stderr (progress bars included) to the rule's log and use the rule's threads.

    An exception is logged with its traceback and re-raised, so Snakemake marks the job failed and
    removes its outputs.
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
            yield log
        except BaseException:
            log.exception("rule %s failed", snakemake.rule)
            raise
        log.info("done in %.1f s", time.perf_counter() - start)
