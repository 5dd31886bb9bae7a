"""Cluster credentials (kubeconfigs) encrypted at rest with Fernet.

The key comes from RAILSTUDIO_CREDENTIALS_KEY: one or more comma-separated Fernet keys, newest
first. Encryption uses the first; decryption tries each (MultiFernet), so rotating is: put the
new key in front, run `python manage.py rotate_credentials`, then drop the old key. With the
variable unset, a key is generated once into var/credentials_key (never committed).
"""

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

ENV_VAR = "RAILSTUDIO_CREDENTIALS_KEY"


class CredentialsError(Exception):
    pass


def _keys() -> list[bytes]:
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return [key.strip().encode() for key in configured.split(",") if key.strip()]
    key_file = settings.VAR_DIR / "credentials_key"
    if not key_file.exists():
        key_file.write_bytes(Fernet.generate_key())
        key_file.chmod(0o600)
    return [key_file.read_bytes().strip()]


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as error:
        raise CredentialsError(f"{ENV_VAR} holds an invalid Fernet key: {error}") from None


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialsError(
            f"Stored credentials cannot be decrypted with the keys in {ENV_VAR}; "
            "was the key rotated without keeping the old one?"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(token.encode()).decode()
