"""Fast, explicit failure when the Hugging Face Hub cannot be reached.

Without this, transformers and huggingface_hub retry network time-outs for ~50 s before failing
with a generic error. Every loader that may touch the Hub calls `require_hub(what, fix)` first.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse


class HubUnavailableError(RuntimeError):
    """The Hub is needed for something that is not available locally, and it cannot be reached."""


PROBE_TIMEOUT_S = 3.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Quick TCP probe of the Hub endpoint (HF_ENDPOINT or huggingface.co:443; the HTTPS proxy if one is
    set), bounded by `timeout` seconds in total (name resolution included). Returns (reachable, reason)."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    proxy_var = "HTTPS_PROXY" if parsed.scheme != "http" else "HTTP_PROXY"
    proxy = os.environ.get(proxy_var) or os.environ.get(proxy_var.lower())
    if proxy:  # behind a proxy the Hub is reached through it: probe the proxy instead
        p = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if p.hostname:
            host, port = p.hostname, p.port or 8080
    result: dict[str, object] = {}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if result.get("ok"):
        return True, ""
    reason = result.get("error") or f"no answer within {timeout:.0f} s"
    return False, f"cannot connect to {host}:{port} ({reason})"


def require_hub(what: str, fix: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise HubUnavailableError naming `what` was wanted and how to `fix` it, unless the Hub answers."""
    ok, reason = hub_reachable(timeout)
    if not ok:
        raise HubUnavailableError(f"Cannot download {what} from the Hugging Face Hub ({reason}). {fix}")
