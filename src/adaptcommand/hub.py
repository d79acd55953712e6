"""Fast, explicit failure when the Hugging Face Hub cannot be reached.

Without this, transformers and huggingface_hub retry network time-outs for ~50 s before failing
with a generic error. Every loader that may touch the Hub calls `require_hub(what, fix)` first.
"""

from __future__ import annotations

import os
import socket

HUB_HOST = "huggingface.co"


class HubUnavailableError(RuntimeError):
    """The Hub is needed for something that is not available locally, and it cannot be reached."""


def hub_offline_forced() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if a TCP connection to the Hub opens within `timeout` seconds (DNS included)."""
    if hub_offline_forced():
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(what: str, fix: str, timeout: float = 3.0) -> None:
    """Raise HubUnavailableError naming `what` was wanted and how to `fix` it, unless the Hub answers."""
    if not hub_reachable(timeout):
        reason = "HF_HUB_OFFLINE is set" if hub_offline_forced() else f"{HUB_HOST}:443 is unreachable"
        raise HubUnavailableError(f"Cannot download {what} from the Hugging Face Hub ({reason}). {fix}")
