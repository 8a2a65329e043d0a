"""Verification of the JWT bearer token a CDS client sends (CDS Hooks 2.0, "Trusting CDS Clients").

The client signs a short-lived JWT with its private key; the service checks, in this order:

1. ``Authorization: Bearer <jwt>`` is present;
2. the header's ``alg`` is in the allow-list (``ES384``, ``RS384`` as the specification names;
   never ``none`` nor ``HS*``, which would let the public key serve as an HMAC secret);
3. the header's ``kid`` names a key in the configured JWK Set (file, or URL read with
   :class:`jwt.PyJWKClient`); a key whose own ``alg`` differs from the header's is refused;
4. the signature, ``iss`` in the allow-list, ``aud`` equal to the endpoint called, ``exp``, and
   that ``sub``, ``iat`` and ``jti`` are present; ``iat`` not in the future and ``exp - iat`` no
   longer than the configured lifetime (5 minutes by default);
5. ``jti`` not seen before from the same issuer within the token's lifetime (in memory, or in a
   SQLite file shared by the worker processes).

The ``jku`` header is ignored: keys come only from the configured JWK Set, so a token cannot
point the service at keys of its own choosing.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt

from riskcalc.errors import ConfigError, RiskCalcError
from riskcalc.service._settings import ServiceSettings

_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti"]


class AuthError(RiskCalcError, PermissionError):
    """The bearer token is missing or failed verification (HTTP 401).

    The message is a fixed phrase naming the failed check; it never contains claim values.
    """

    def __init__(self, message: str) -> None:
        super().__init__("service.unauthorized", message)


@dataclass(frozen=True)
class VerifiedClient:
    """Who called: the verified claims the service keeps (no patient data)."""

    issuer: str
    subject: str
    jti: str
    expires_at: float
    tenant: str | None = None


class ReplayCache:
    """The ``jti`` values seen, each kept until its token expires: a replay is refused.

    Thread-safe; expired entries are purged as new ones arrive. When full of unexpired entries
    it refuses new tokens rather than forgetting old ones (failing closed).
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._expiry: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: tuple[str, str], *, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds); False if it is already live."""
        with self._lock:
            seen = self._expiry.get(key)
            if seen is not None and seen >= now:
                return False
            if now >= self._next_purge or len(self._expiry) >= self._max_entries:
                self._expiry = {k: t for k, t in self._expiry.items() if t >= now}
                self._next_purge = now + 10.0
            if len(self._expiry) >= self._max_entries:
                return False
            self._expiry[key] = expires_at
            return True


class SqliteReplayCache:
    """The ``jti`` store shared by several server processes (``riskcalc serve --workers N``).

    One SQLite table (WAL mode) keyed by issuer and ``jti``; a token is accepted only if its key
    is absent or expired, decided atomically by one ``INSERT … ON CONFLICT DO UPDATE … WHERE``.
    """

    def __init__(self, path: Path, max_entries: int) -> None:
        self._path, self._max_entries = path, max_entries
        self._lock = threading.Lock()
        self._next_purge = 0.0
        try:
            self._db = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS seen (iss TEXT, jti TEXT, exp REAL, "
                "PRIMARY KEY (iss, jti)) WITHOUT ROWID"
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise ConfigError(
                "config.invalid", f"cannot open the replay store {path}: {exc}"
            ) from exc

    def add(self, key: tuple[str, str], *, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds); False if it is already live."""
        with self._lock:
            try:
                if now >= self._next_purge:
                    self._db.execute("DELETE FROM seen WHERE exp < ?", (now,))
                    self._next_purge = now + 10.0
                    (count,) = self._db.execute("SELECT count(*) FROM seen").fetchone()
                    if count >= self._max_entries:
                        self._db.commit()
                        return False
                cursor = self._db.execute(
                    "INSERT INTO seen (iss, jti, exp) VALUES (?, ?, ?) "
                    "ON CONFLICT (iss, jti) DO UPDATE SET exp = excluded.exp WHERE seen.exp < ?",
                    (key[0], key[1], expires_at, now),
                )
                self._db.commit()
            except sqlite3.Error:
                self._db.rollback()
                return False  # fail closed
            return cursor.rowcount == 1


class KeySource(Protocol):
    def key_for(self, kid: str) -> jwt.PyJWK: ...


class JwksFileKeys:
    """Keys from a JWK Set file, read once at start."""

    def __init__(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                "config.invalid", f"cannot read the JWK Set file {path}: {exc}"
            ) from exc
        if not isinstance(data, dict):  # PyJWKSet.from_dict assumes an object
            raise ConfigError(
                "config.invalid",
                f'the JWK Set file {path} is not a JWK Set: a JSON object {{"keys": [...]}} '
                "was expected",
            )
        try:
            self._keys = jwt.PyJWKSet.from_dict(data)
        except jwt.PyJWTError as exc:
            raise ConfigError("config.invalid", f"the JWK Set file {path}: {exc}") from exc

    def key_for(self, kid: str) -> jwt.PyJWK:
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError("unknown key id (kid)") from None


class JwksUrlKeys:
    """Keys from a JWK Set URL, cached, refreshed when an unknown ``kid`` arrives."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=int(timeout_s))

    def key_for(self, kid: str) -> jwt.PyJWK:
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientError as exc:
            raise AuthError("unknown key id (kid) or JWK Set unavailable") from exc


def key_source(settings: ServiceSettings) -> KeySource:
    """The key source the settings name (file or URL)."""
    if settings.jwks_file is not None:
        return JwksFileKeys(settings.jwks_file)
    if settings.jwks_url is not None:
        return JwksUrlKeys(settings.jwks_url, timeout_s=settings.fetch_timeout_s)
    raise ConfigError("config.invalid", "no JWK Set configured (--jwks-url or --jwks-file)")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not authorization:
        raise AuthError("missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header is not a Bearer token")
    return token.strip()


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    """The claim ``name`` as a finite JSON number (an RFC 7519 NumericDate), else AuthError."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthError(f"token {name} is not a number (NumericDate)")
    return float(value)


class TokenVerifier:
    """Verifies CDS clients' tokens against the settings; one instance per running service."""

    def __init__(
        self,
        settings: ServiceSettings,
        keys: KeySource,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock
        self._replay: ReplayCache | SqliteReplayCache = (
            ReplayCache(settings.max_replay_entries)
            if settings.replay_store is None
            else SqliteReplayCache(settings.replay_store, settings.max_replay_entries)
        )

    def verify(self, authorization: str | None, *, audience: str | list[str]) -> VerifiedClient:
        """Verify the header value for a call to the endpoint URL ``audience`` (or one of them).

        Raises
        ------
        AuthError
            With a fixed phrase naming the check that failed.
        """
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._settings.algorithms:
            raise AuthError(f"algorithm not allowed; use one of {list(self._settings.algorithms)}")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token header has no key id (kid)")
        jwk = self._keys.key_for(kid)
        if jwk._jwk_data.get("alg") not in (None, alg) or jwk._jwk_data.get("use") not in (
            None,
            "sig",
        ):
            raise AuthError("the key named by kid is not for this algorithm")
        claims = self._decode(token, jwk, alg, audience)
        return self._check_claims(claims)

    def _decode(
        self, token: str, jwk: jwt.PyJWK, alg: str, audience: str | list[str]
    ) -> dict[str, Any]:
        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                jwk.key,
                algorithms=[alg],
                audience=audience,
                issuer=list(s.issuers),
                leeway=s.clock_skew_s,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience (aud) is not this service endpoint") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer (iss) is not allowed") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the required claim {exc.claim}") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature does not verify") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token issued in the future (iat/nbf)") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthError("token does not verify") from None
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> VerifiedClient:
        s = self._settings
        now = self._clock()
        # PyJWT compares int(claim), so it lets "exp": "1700000000" through: the arithmetic
        # below needs the JSON numbers RFC 7519 says these claims are.
        iat, exp = _numeric_date(claims, "iat"), _numeric_date(claims, "exp")
        if "nbf" in claims:
            _numeric_date(claims, "nbf")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("token jti is not a non-empty string")
        if iat > now + s.clock_skew_s:
            raise AuthError("token issued in the future (iat)")
        if exp - iat > s.max_token_lifetime_s + s.clock_skew_s:
            raise AuthError(f"token lifetime exceeds {s.max_token_lifetime_s} s")
        issuer = str(claims["iss"])
        if not self._replay.add((issuer, jti), expires_at=exp + s.clock_skew_s, now=now):
            raise AuthError("token jti already used (replay)")
        tenant = claims.get("tenant")
        return VerifiedClient(
            issuer=issuer,
            subject=str(claims["sub"]),
            jti=jti,
            expires_at=float(exp),
            tenant=tenant if isinstance(tenant, str) else None,
        )
