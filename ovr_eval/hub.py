"""Whether the Hugging Face hub can be reached, found out once per process.

Offline, ``datasets`` retries every request for ~26 s before it gives up. ``offline_reason``
answers at once: ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)
set, or the hub's host (``HF_ENDPOINT``, default huggingface.co) not answering a TCP connection
within ``CHECK_TIMEOUT_S``. ``cache_only`` then puts the hub libraries in offline mode, so a
dataset already in the local cache still loads and one that is not fails at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from ovr_eval.types import UserError

CHECK_TIMEOUT_S = 2.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}


def _set_offline_variable() -> str | None:
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().upper() in _TRUE:
            return name
    return None


def endpoint() -> tuple[str, int]:
    """The hub's host and port (``HF_ENDPOINT``, default https://huggingface.co)."""
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def _unreachable(host: str, port: int, timeout_s: float) -> str | None:
    """Why ``host:port`` takes no TCP connection within ``timeout_s`` (None: it does). The
    lookup and connection run in a thread, so a hanging DNS resolver is not waited for."""
    answer: dict[str, str | None] = {}

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                answer["error"] = None
        except OSError as exc:
            answer["error"] = exc.strerror or type(exc).__name__

    thread = threading.Thread(target=connect, name="ovr-hub-check", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    if "error" not in answer:
        return f"no answer in {timeout_s:g} s"
    return answer["error"]


@functools.cache
def offline_reason() -> str | None:
    """Why the hub cannot be reached ("HF_HUB_OFFLINE=1", "huggingface.co:443 is unreachable
    (...)"), or None when it answers. Asked once per process."""
    variable = _set_offline_variable()
    if variable is not None:
        return f"{variable}={os.environ[variable]}"
    host, port = endpoint()
    why = _unreachable(host, port, CHECK_TIMEOUT_S)
    return None if why is None else f"{host}:{port} is unreachable ({why})"


@contextlib.contextmanager
def cache_only() -> Iterator[None]:
    """Offline mode for the hub libraries while the block runs: local cache only, no retries
    (their module settings, restored afterwards; the environment is left alone)."""
    import datasets.config
    import huggingface_hub.constants

    saved = (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE,
             datasets.config.HF_DATASETS_OFFLINE)
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    try:
        yield
    finally:
        (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE,
         datasets.config.HF_DATASETS_OFFLINE) = saved


class NotCached(UserError):
    """Offline, and a dataset the run needs is not in the local hub cache."""

    def __init__(self, reason: str, what: str, hint: str):
        super().__init__(f"offline ({reason}) and {what} is not in the local hub cache: {hint}")
        self.reason, self.what, self.hint = reason, what, hint


def not_cached_message(errors: list[tuple[str, NotCached]]) -> str:
    """Several tasks missing from the cache, offline, said once: (task, error) pairs."""
    first = errors[0][1]
    return (f"offline ({first.reason}): {len(errors)} task(s) not in the local hub cache: "
            + ", ".join(f"{task} ({error.what})" for task, error in errors) + f"; {first.hint}")


def access_denied(exc: BaseException) -> int | None:
    """The HTTP status (401 or 403) when ``exc`` (or an error it was raised from) says the hub
    refused access: huggingface_hub's ``GatedRepoError``, any hub HTTP error answered 401 / 403,
    or the ``DatasetNotFoundError`` that ``datasets`` raises from one ("... is a gated dataset
    on the Hub"). None for any other error."""
    from huggingface_hub.errors import GatedRepoError

    seen: set[int] = set()
    error: BaseException | None = exc
    said: int | None = None  # what a message alone says, when no response is attached
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            return int(status)
        if isinstance(error, GatedRepoError):
            said = said or 401
        elif type(error).__name__ == "DatasetNotFoundError" and "gated" in str(error):
            said = said or (403 if "ask for access" in str(error) else 401)
        error = error.__cause__ or error.__context__
    return said


class Gated(UserError):
    """The hub refused a gated (or private) dataset: no token, or terms not accepted."""

    def __init__(self, repo_id: str, status: int):
        page = f"https://huggingface.co/datasets/{repo_id}"
        token = "HF_TOKEN is set, but its account has no access" if os.environ.get("HF_TOKEN") \
            else "no HF_TOKEN is set"
        super().__init__(
            f"{repo_id} is gated on the Hugging Face hub (HTTP {status}; {token}): accept its "
            f"terms on {page} while logged in, then set HF_TOKEN to a token of that account "
            f"(or point --data-dir at local files)")
        self.repo_id, self.status = repo_id, status
