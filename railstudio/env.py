"""Settings read from the environment, with defaults that work on a fresh machine."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RAILSTUDIO_VAR_DIR", BASE_DIR / "var"))


def flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def csv_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_key() -> str:
    """SECRET_KEY from the environment, else the one generated into var/ (never committed);
    empty until `ensure_secret_key` made it (railstudio.apps runs it at start)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    return key_file.read_text().strip() if key_file.exists() else ""


def ensure_secret_key() -> str:
    """The key in var/secret_key, written once (owner-only) if it is not there yet; of several
    processes starting at once, the first writes it and the others read it."""
    key_file = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    with os.fdopen(handle, "w") as out:
        out.write(key)
    return key


# kombu warns "No hostname was supplied" for a bare filesystem:// on every connection.
FILESYSTEM_BROKER = "filesystem://localhost/"


def broker_url() -> str:
    """REDIS_URL when set; otherwise kombu's filesystem transport under var/ (no server needed)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    return FILESYSTEM_BROKER


def is_filesystem_broker(url: str) -> bool:
    return url.startswith("filesystem://")


def broker_timeout() -> float:
    """Seconds a send to the broker may take before the request gives up (503)."""
    return float(os.environ.get("CELERY_BROKER_TIMEOUT", "2"))


def redis_transport_options() -> dict:
    """Bounded socket timeouts for Redis: without them a frozen Redis (paused, or behind a
    dead NAT entry) holds every request that queues a task for as long as it stays frozen."""
    timeout = broker_timeout()
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


BROKER_FOLDERS = ("in", "processed", "control")


def filesystem_broker_dir() -> Path:
    return VAR_DIR / "broker"


def make_filesystem_broker_dirs() -> None:
    for sub in BROKER_FOLDERS:
        (filesystem_broker_dir() / sub).mkdir(parents=True, exist_ok=True)


def integer(name: str, default: int, low: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise ValueError(f"{name} must be a whole number >= {low}, not {raw!r}.")
    return int(raw)


def number(name: str, default: float, low: float = 0.0) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value < float("inf"):
        raise ValueError(f"{name} must be a number >= {low:g}, not {raw!r}.")
    return value


def prepare_threshold(name: str, default: int) -> int | None:
    """psycopg's prepare_threshold: after how many runs of a query on a connection PostgreSQL
    keeps its plan; `off` never (for a pooler in transaction mode that cannot keep them)."""
    if os.environ.get(name, "").strip().lower() in {"off", "none", "no", "false"}:
        return None
    return integer(name, default)


def fernet_keys_error(value: str) -> str | None:
    """Why RAILSTUDIO_CREDENTIALS_KEY cannot be used, or None: one or more comma-separated
    Fernet keys (32 url-safe base64-encoded bytes each), newest first."""
    from cryptography.fernet import Fernet

    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        return "it holds no key."
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            return (
                f"key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded "
                'bytes); make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
    return None
