"""The local development identity provider: a generated signing key, its JWKS file, and
tokens for staff and customers.

The services never hold a signing key: they verify tokens against a JWKS
(:mod:`counterflow_shared.web.tokens`). In a bank that JWKS is the identity provider's
(``https://idp.bank.example/.well-known/jwks.json``); on a developer's machine, in the
tests and in ``make up``/``make demo`` it is the file this module writes:

- ``<dir>/signing-keys/<kid>.pem``: ES256 (P-256) private keys, mode 0600, the newest
  signs;
- ``<dir>/jwks.json``: their public halves (RFC 7517), each with ``kid`` = the RFC 7638
  thumbprint, ``alg`` = ``ES256``, ``use`` = ``sig``.

``<dir>`` is ``CF_DEV_IDP_DIR``, else ``<state dir>/dev-idp`` where the state dir is the
one ``deploy/local/env.sh`` uses (``CF_STATE_DIR``, else ``$XDG_STATE_HOME/counterflow``
or ``~/.local/state/counterflow``). The services read it through ``CF_JWT_JWKS_URL``,
whose default is ``file://<dir>/jwks.json``.

Command line (documented in docs/security.md)::

    python -m counterflow_shared.devidp token --role teller --branch B01
    python -m counterflow_shared.devidp token --role operations --branch '*' --audience counterflow-selfservice
    python -m counterflow_shared.devidp customer-token --customer C123
    python -m counterflow_shared.devidp rotate     # a new signing key; the old one stays in the JWKS
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

#: ``iss`` of the development provider's staff tokens (the services' default ``jwt_issuer``)
DEV_STAFF_ISSUER = "counterflow-dev-idp"
#: ``iss`` of its customer access tokens (the mobile gateway's default ``customer_jwt_issuer``)
DEV_CUSTOMER_ISSUER = "counterflow-dev-customer-idp"
#: every service's own staff audience (``jwt_audience`` defaults to ``counterflow-<service>``)
STAFF_AUDIENCES = ("counterflow-ticketing", "counterflow-selfservice", "counterflow-mobile-gateway", "counterflow-scoring")
#: audience of customer access tokens (the mobile gateway's ``customer_jwt_audience``)
CUSTOMER_AUDIENCE = "counterflow-mobile"
ALGORITHM = "ES256"


def state_dir() -> Path:
    """The local platform's state directory (the same rule as ``deploy/local/env.sh``)."""
    if os.environ.get("CF_STATE_DIR"):
        return Path(os.environ["CF_STATE_DIR"])
    if os.getuid() == 0:
        return Path("/var/lib/counterflow")
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "counterflow"


def idp_dir() -> Path:
    """Where the development provider keeps its keys (``CF_DEV_IDP_DIR`` or ``<state>/dev-idp``)."""
    return Path(os.environ.get("CF_DEV_IDP_DIR") or state_dir() / "dev-idp")


def jwks_url(directory: Path | None = None) -> str:
    """``file://`` URL of the development JWKS (the default of ``CF_JWT_JWKS_URL``)."""
    return (Path(directory or idp_dir()).resolve() / "jwks.json").as_uri()


class DevIdentityProvider:
    """Signing keys and token issuing of the development provider in ``directory``.

    Keys are created on first use; several processes may race to create them (pytest
    workers, ``make up``), so creation and rotation hold an exclusive ``flock``.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or idp_dir())
        self._signing: tuple[str, Any] | None = None

    @property
    def jwks_path(self) -> Path:
        """Path of the public key set (``jwks.json``)."""
        return self.directory / "jwks.json"

    @property
    def jwks_url(self) -> str:
        """``file://`` URL of :attr:`jwks_path`."""
        return jwks_url(self.directory)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _keys_dir(self) -> Path:
        return self.directory / "signing-keys"

    def _write_key(self) -> str:
        private = ec.generate_private_key(ec.SECP256R1())
        public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
        kid = _thumbprint(public_jwk)
        keys = self._keys_dir()
        keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = keys / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}.{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self._write_jwks()
        return kid

    def _key_files(self) -> list[Path]:
        return sorted(self._keys_dir().glob("*.pem")) if self._keys_dir().exists() else []

    def _write_jwks(self) -> None:
        entries = []
        for path in self._key_files():
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
            entries.append({**public_jwk, "kid": _thumbprint(public_jwk), "alg": ALGORITHM, "use": "sig"})
        tmp = self.jwks_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": entries}, indent=2))
        tmp.replace(self.jwks_path)  # atomic: a verifier never reads half a file

    def ensure(self) -> DevIdentityProvider:
        """Create the first signing key and the JWKS file if missing; returns ``self``."""
        if self.jwks_path.exists() and self._key_files():
            return self
        with self._locked():
            if not self._key_files():
                self._write_key()
            elif not self.jwks_path.exists():
                self._write_jwks()
        return self

    def rotate(self) -> str:
        """Add a new signing key (it signs from now on; earlier keys stay in the JWKS so
        tokens they signed keep verifying until they expire). Returns the new ``kid``."""
        with self._locked():
            kid = self._write_key()
        self._signing = None
        return kid

    def retire(self, kid: str) -> None:
        """Remove key ``kid`` from the key set (its tokens stop verifying once the services'
        cached key sets expire)."""
        with self._locked():
            for path in self._key_files():
                if path.stem.split(".", 1)[1] == kid:
                    path.unlink()
            self._write_jwks()
        self._signing = None

    def signing_key(self) -> tuple[str, Any]:
        """``(kid, private key)`` of the newest key (created when there is none)."""
        self.ensure()
        newest = self._key_files()[-1]
        if self._signing is None or self._signing[0] != newest.stem.split(".", 1)[1]:
            private = serialization.load_pem_private_key(newest.read_bytes(), password=None)
            self._signing = (newest.stem.split(".", 1)[1], private)
        return self._signing

    def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` signed ES256 with the newest key (header ``kid`` set)."""
        kid, private = self.signing_key()
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})

    def staff_token(self, *, role: str, branches: Iterable[str], subject: str, audience: str | Iterable[str] = STAFF_AUDIENCES, issuer: str = DEV_STAFF_ISSUER, ttl_s: int = 3600) -> str:
        """A staff token (``sub``, ``role``, ``branches``) valid ``ttl_s`` seconds for
        ``audience`` (one service's, or by default all four)."""
        now = datetime.now(UTC)
        aud = audience if isinstance(audience, str) else list(audience)
        return self.sign({"iss": issuer, "aud": aud, "sub": subject, "role": role, "branches": list(branches), "iat": now, "nbf": now, "exp": now + timedelta(seconds=ttl_s)})

    def customer_token(self, *, customer_id: str, audience: str = CUSTOMER_AUDIENCE, issuer: str = DEV_CUSTOMER_ISSUER, ttl_s: int = 900) -> str:
        """A customer access token (``sub`` = customer id, ``scope`` = ``customer``) as the
        bank's OpenID Connect provider issues after the app's authorization-code + PKCE flow."""
        now = datetime.now(UTC)
        return self.sign({"iss": issuer, "aud": audience, "sub": customer_id, "scope": "customer", "iat": now, "nbf": now, "exp": now + timedelta(seconds=ttl_s)})


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key."""
    canonical = json.dumps({k: public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


_provider: DevIdentityProvider | None = None


def provider() -> DevIdentityProvider:
    """The process-wide provider of :func:`idp_dir` (keys created on first use)."""
    global _provider
    if _provider is None or _provider.directory != idp_dir():
        _provider = DevIdentityProvider().ensure()
    return _provider


def issue_staff_token(*, subject: str, role: str, branches: Iterable[str], audience: str | Iterable[str] = STAFF_AUDIENCES, issuer: str = DEV_STAFF_ISSUER, ttl_s: int = 3600) -> str:
    """A development staff token signed by :func:`provider` (see
    :meth:`DevIdentityProvider.staff_token`)."""
    return provider().staff_token(role=role, branches=branches, subject=subject, audience=audience, issuer=issuer, ttl_s=ttl_s)


def issue_customer_token(*, customer_id: str, audience: str = CUSTOMER_AUDIENCE, issuer: str = DEV_CUSTOMER_ISSUER, ttl_s: int = 900) -> str:
    """A development customer access token signed by :func:`provider`."""
    return provider().customer_token(customer_id=customer_id, audience=audience, issuer=issuer, ttl_s=ttl_s)


cli = typer.Typer(help="The local development identity provider (never used in production).", no_args_is_help=True)


@cli.command()
def init() -> None:
    """Create the signing key and the JWKS file if missing; print the JWKS URL."""
    typer.echo(provider().jwks_url)


@cli.command()
def token(
    role: Annotated[str, typer.Option(help="teller, lobby_manager, operations, approver, analyst or admin")],
    branch: Annotated[list[str], typer.Option(help="branch id the token covers (repeat; '*' for all)")],
    subject: Annotated[str, typer.Option(help="staff id (sub)")] = "",
    audience: Annotated[list[str], typer.Option(help="service audience (repeat); default: all four services")] = [],  # noqa: B006 - typer reads the default
    ttl_s: Annotated[int, typer.Option(help="validity in seconds")] = 3600,
) -> None:
    """Print a staff token for ROLE and BRANCH."""
    typer.echo(issue_staff_token(subject=subject or f"dev-{role}", role=role, branches=branch, audience=audience or STAFF_AUDIENCES, ttl_s=ttl_s))


@cli.command("customer-token")
def customer_token(customer: Annotated[str, typer.Option(help="customer id (sub)")], ttl_s: Annotated[int, typer.Option(help="validity in seconds")] = 900) -> None:
    """Print a customer access token for the mobile gateway."""
    typer.echo(issue_customer_token(customer_id=customer, ttl_s=ttl_s))


@cli.command()
def rotate() -> None:
    """Add a new signing key (the previous keys stay published); print its kid."""
    typer.echo(provider().rotate())


if __name__ == "__main__":
    cli()
