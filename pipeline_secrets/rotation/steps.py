"""The four rotation steps. Each is idempotent and safe to re-run after a crash.

* ``createSecret``: reuse the AWSPENDING value of the token if there is one, otherwise
  put a new one (GetRandomPassword; for alternating users, the other user name).
* ``setSecret``: the pending value must be what the strategy allows (same database,
  same user or exactly its alternate; :func:`.strategies.pending_problem`). Single
  user: nothing to do if the pending credentials already log in; else log in with the
  current, then the previous credentials and change the password. Alternating: first
  log in as the current (else the previous) user of the pair with its own
  credentials, so that a secret naming someone else's user cannot borrow the master
  (the confused deputy the AWS templates guard against); then the master - at the
  endpoint of the master secret or of RDS, never of the user's secret - checks that
  neither user is the master or privileged, creates or updates the pending user and
  copies the privileges (every time: a re-run repairs a half-done copy).
* ``testSecret``: log in with the pending credentials and run a query.
* ``finishSecret``: check the pending value once more, move AWSCURRENT to the token,
  then remove AWSPENDING from it.

Driver errors are re-raised as :class:`RotationError` naming the step and the secret,
chained to a copy of the driver error with every password known to the step removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.classify import is_authentication_failure
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from pipeline_secrets.rotation.checks import CREATE, FINISH, SET, TEST
from pipeline_secrets.rotation.engines import RotationEngine, engine_for
from pipeline_secrets.rotation.errors import RotationConfigError, RotationError
from pipeline_secrets.rotation.master import MasterEndpointError, master_connection_value
from pipeline_secrets.rotation.passwords import PasswordOptions
from pipeline_secrets.rotation.store import SecretStore, default_client, region_of_arn
from pipeline_secrets.rotation.strategies import (
    ALTERNATING,
    clone_name_problem,
    other_username,
    pending_problem,
    strategy_of,
)
from pipeline_secrets.rotation.target import DbTarget, target_from_secret
from pipeline_secrets.sanitize import sanitized

log = logging.getLogger(__name__)


@dataclass
class StepContext:
    store: SecretStore
    token: str
    step: str
    options: StepOptions
    engines: Callable[[str], RotationEngine] = engine_for
    known_passwords: list[str] = field(default_factory=list)  # redacted from errors

    @property
    def secret_id(self) -> str:
        return self.store.secret_id

    def fail(self, reason: str) -> RotationError:
        return RotationError(self.step, self.secret_id, reason)

    def clean(self, exc: BaseException) -> BaseException:
        """A copy of a driver error without any password this step has seen."""
        return sanitized(exc, self.known_passwords)

    def remember(self, password: Any) -> None:
        """A password this step handles: redacted from errors, given to ``on_password``."""
        if isinstance(password, str) and password:
            self.known_passwords.append(password)
            if self.options.on_password is not None:
                self.options.on_password(password)

    def target(self, secret: Mapping[str, Any], label: str, **kw: Any) -> DbTarget:
        self.remember(secret.get("password"))
        try:
            return target_from_secret(secret, self.secret_id, label, **kw)
        except SecretFormatError as exc:
            raise RotationConfigError(self.step, self.secret_id, f"{label} value: {exc}") from exc

    def current(self) -> dict[str, Any]:
        return self.store.get_dict(AWSCURRENT)

    def pending(self) -> dict[str, Any]:
        value = self.store.get_dict_or_none(AWSPENDING, self.token)
        if value is not None:
            self.remember(value.get("password"))
        if value is None:
            raise RotationError(
                self.step,
                self.secret_id,
                f"version {self.token} has no AWSPENDING value (run createSecret first)",
            )
        return value


@dataclass(frozen=True)
class StepOptions:
    """What the caller of a rotation gives each of its steps."""

    master_client: Any | None = None  # for the master secret (default: its region's)
    password_options: PasswordOptions | None = None  # default: from the environment
    on_password: Callable[[str], None] | None = None  # e.g. Airflow's masker
    rds_clients: Callable[[str | None], Any] | None = None  # region -> RDS client


# -- createSecret ------------------------------------------------------------------------
def create_secret(ctx: StepContext) -> None:
    current = ctx.current()
    target = ctx.target(current, "current")
    existing = ctx.store.get_dict_or_none(AWSPENDING, ctx.token)
    if existing is not None:
        _check_pending(ctx, current, existing, target)
        log.info(
            "createSecret: secret %r already has a pending value for %s", ctx.secret_id, ctx.token
        )
        return
    engine = ctx.engines(target.engine)
    try:
        options = ctx.options.password_options or PasswordOptions.from_env()
    except ValueError as exc:
        raise RotationConfigError(CREATE, ctx.secret_id, str(exc)) from None
    problems = options.problems(target.engine)
    if problems:
        raise RotationConfigError(CREATE, ctx.secret_id, "; ".join(problems))
    new = dict(current)
    if strategy_of(current) == ALTERNATING:
        problem = clone_name_problem(target.username, engine)
        if problem:
            raise RotationConfigError(CREATE, ctx.secret_id, problem)
        new["username"] = other_username(target.username)
    new["password"] = ctx.store.random_password(options.request(target.engine))
    ctx.remember(new["password"])
    ctx.store.put_pending(ctx.token, new)
    log.info(
        "createSecret: put a new pending value (user %r) in secret %r version %s",
        new["username"],
        ctx.secret_id,
        ctx.token,
    )


# -- setSecret ---------------------------------------------------------------------------
def set_secret(ctx: StepContext) -> None:
    current = ctx.current()
    pending_value = ctx.pending()
    pending = ctx.target(pending_value, "pending")
    cur = ctx.target(current, "current")
    _check_pending(ctx, current, pending_value, cur, pending)
    engine = ctx.engines(pending.engine)
    if strategy_of(current) == ALTERNATING:
        # Always re-applied (idempotent): a crash after the user was created but before
        # its privileges were copied must be repaired, though the pending login works.
        _set_alternating(ctx, engine, current, cur, pending)
        return
    conn = _try_login(ctx, engine, pending)
    if conn is not None:
        _close(conn)
        log.info("setSecret: pending credentials of %r already work; nothing to do", ctx.secret_id)
        return
    _set_single(ctx, engine, cur, pending)


def _check_pending(
    ctx: StepContext,
    current: Mapping[str, Any],
    pending_value: Mapping[str, Any],
    cur: DbTarget,
    pending: DbTarget | None = None,
) -> None:
    pend = pending if pending is not None else ctx.target(pending_value, "pending")
    problem = pending_problem(current, pending_value, cur, pend)
    if problem:
        raise RotationConfigError(ctx.step, ctx.secret_id, f"refused: {problem}")


def _login_current_or_previous(
    ctx: StepContext, engine: RotationEngine, cur: DbTarget, users: set[str]
) -> Any | None:
    """A connection as the current user, else as the previous one when it is one of
    ``users`` on the same database; None when the database refuses both."""
    candidates = [cur]
    previous = ctx.store.get_dict_or_none(AWSPREVIOUS)
    if previous is not None:
        try:
            prev: DbTarget | None = ctx.target(previous, "previous")
        except RotationConfigError:
            prev = None  # an unreadable previous value is no candidate
        if prev is not None and prev.username in users and not cur.same_database_problem(prev):
            candidates.append(prev)
    for candidate in candidates:
        conn = _try_login(ctx, engine, candidate)
        if conn is not None:
            return conn
    return None


def _set_single(ctx: StepContext, engine: RotationEngine, cur: DbTarget, pending: DbTarget) -> None:
    conn = _login_current_or_previous(ctx, engine, cur, {cur.username})
    if conn is None:
        raise ctx.fail(
            "the database refused the pending, current and previous credentials "
            f"of user {cur.username!r}"
        )
    try:
        engine.set_own_password(conn, pending.username, pending.password)
    except Exception as exc:
        reason = f"could not change the password of user {pending.username!r}"
        raise ctx.fail(reason) from ctx.clean(exc)
    finally:
        _close(conn)
    log.info(
        "setSecret: user %r of secret %r has the pending password", pending.username, ctx.secret_id
    )


def _set_alternating(
    ctx: StepContext,
    engine: RotationEngine,
    current: Mapping[str, Any],
    cur: DbTarget,
    pending: DbTarget,
) -> None:
    # Confused deputy: the master acts only for a pair of users whose credentials the
    # secret really holds. Prove it by logging in as the current (else previous) user.
    proof = _login_current_or_previous(ctx, engine, cur, {cur.username, pending.username})
    if proof is None:
        raise RotationConfigError(
            SET,
            ctx.secret_id,
            "refused: the database accepts neither the current nor the previous credentials "
            "of the secret's users, so the master will not act for them "
            "(could not log in with the current or previous credentials)",
        )
    _close(proof)
    master_arn = str(current["masterarn"])
    master_store = SecretStore(_master_client(ctx, master_arn), master_arn)
    try:
        master_value = master_store.get_dict(AWSCURRENT)
        ctx.remember(master_value.get("password"))
        connection_value = master_connection_value(
            master_value, master_store, ctx.options.rds_clients or _rds_client
        )
    except MasterEndpointError as exc:
        raise RotationConfigError(
            SET, ctx.secret_id, f"master secret {master_arn!r}: {exc}"
        ) from None
    except SecretFormatError as exc:
        raise RotationConfigError(SET, ctx.secret_id, f"master secret: {exc}") from None
    except Exception as exc:
        raise RotationError(
            SET,
            ctx.secret_id,
            f"could not read the master secret {master_arn!r}: {type(exc).__name__}",
        ) from exc
    # The engine only picks the driver; the endpoint is the master's own. The master logs
    # in to the user's database, so privileges are granted there.
    connection_value.setdefault("engine", cur.engine_raw)
    master = ctx.target(connection_value, "master", dbname=cur.dbname, master=True)
    field_ = cur.same_database_problem(master, engine_family=True)
    if field_ in ("engine", "host", "port"):
        raise RotationConfigError(
            SET,
            ctx.secret_id,
            f"refused: the secret names another {field_} than its master secret "
            f"{master_arn!r} (the master connects only to its own database)",
        )
    if master.username in (cur.username, pending.username):
        raise RotationConfigError(
            SET, ctx.secret_id, "refused: the secret names the master user itself"
        )
    conn = _try_login(ctx, engine, master)
    if conn is None:
        raise ctx.fail(f"the database refused the credentials of the master secret {master_arn!r}")
    try:
        problems = [
            f"user {name!r} {problem}"
            for name in (cur.username, pending.username)
            for problem in engine.privilege_problems(conn, name)
        ]
        if problems:
            raise RotationConfigError(
                SET,
                ctx.secret_id,
                "refused: alternating users must not be privileged: " + "; ".join(problems),
            )
        engine.upsert_user(
            conn, template_user=cur.username, user=pending.username, password=pending.password
        )
    except RotationError:
        raise
    except Exception as exc:
        raise ctx.fail(
            f"the master could not create or update user {pending.username!r}"
        ) from ctx.clean(exc)
    finally:
        _close(conn)
    log.info("setSecret: master set user %r of secret %r", pending.username, ctx.secret_id)


def _rds_client(region: str | None) -> Any:
    return default_client(region_name=region, service="rds")


def _master_client(ctx: StepContext, master_arn: str) -> Any:
    if ctx.options.master_client is not None:
        return ctx.options.master_client
    client = ctx.store.client
    region = region_of_arn(master_arn)
    if region and region != getattr(client.meta, "region_name", region):
        return default_client(region_name=region)
    return client


# -- testSecret --------------------------------------------------------------------------
def test_secret(ctx: StepContext) -> None:
    pending = ctx.target(ctx.pending(), "pending")
    engine = ctx.engines(pending.engine)
    conn = _try_login(ctx, engine, pending)
    if conn is None:
        raise ctx.fail(f"the database refused the pending credentials of user {pending.username!r}")
    try:
        engine.check(conn)
    except Exception as exc:
        raise ctx.fail("the test query failed with the pending credentials") from ctx.clean(exc)
    finally:
        _close(conn)
    log.info("testSecret: pending credentials of %r log in", ctx.secret_id)


# -- finishSecret ------------------------------------------------------------------------
def finish_secret(ctx: StepContext) -> None:
    current = ctx.current()
    # The same check once more: a pending value is never made current unchecked.
    _check_pending(ctx, current, ctx.pending(), ctx.target(current, "current"))
    ctx.store.make_current(ctx.token)
    log.info("finishSecret: version %s of secret %r is AWSCURRENT", ctx.token, ctx.secret_id)


STEP_FUNCTIONS: dict[str, Callable[[StepContext], None]] = {
    CREATE: create_secret,
    SET: set_secret,
    TEST: test_secret,
    FINISH: finish_secret,
}


# -- helpers -----------------------------------------------------------------------------
def _try_login(ctx: StepContext, engine: RotationEngine, target: DbTarget) -> Any | None:
    """A connection, or None when the database refuses these credentials. Any other
    failure (unreachable, TLS) is raised as a RotationError."""
    try:
        return engine.connect(target)
    except Exception as exc:
        if is_authentication_failure(exc):
            log.info("%s: database refused the %s", ctx.step, target.describe())
            return None
        raise ctx.fail(f"could not connect with the {target.describe()}") from ctx.clean(exc)


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # pragma: no cover - closing is best effort
        log.debug("closing a connection failed", exc_info=True)
