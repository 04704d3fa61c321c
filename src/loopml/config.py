"""Settings: the one place loopml reads its configuration.

Values come, highest priority first, from ``LOOPML_*`` environment variables, then a TOML
config file (``LOOPML_CONFIG``, or ``loopml.toml`` in the working directory), then the
defaults below. Nothing is read at import time: call :func:`load_settings`.

Every field is documented in ``docs/configuration.md`` (a test checks it).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from loopml.errors import ConfigurationError

__all__ = ["DEFAULT_TRACKING_URI", "Settings", "load_settings", "parse_run_tags"]

DEFAULT_TRACKING_URI = "./.loopml"
_PREFIX = "LOOPML_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Typed loopml settings.

    Attributes:
        tracking_uri: where metadata lives: a folder (embedded SQLite), ``sqlite:///…``,
            ``postgresql://…`` or ``http(s)://host:port`` (a loopml server).
        artifact_uri: root of the artifact store (a folder or any fsspec URL such as
            ``s3://bucket/prefix``). Empty means ``<tracking folder>/artifacts`` for a folder
            tracking URI, and ``./.loopml/artifacts`` otherwise.
        experiment_name: the experiment runs go to when none is set with ``set_experiment``
            (empty: the "Default" experiment).
        async_logging: buffer metrics in the client and write them in batches. Off means every
            ``log_metric`` call is written before it returns.
        flush_interval: seconds a buffered metric may wait before a background flush.
        flush_max_points: buffered points that trigger a flush at once.
        capture_context: record git, argv, Python, platform, host and user on every new run.
        capture_packages: also record the installed packages (an artifact per environment).
        sqlite_busy_timeout: milliseconds SQLite waits for a lock held by another process.
        http_timeout: seconds the REST client waits for a loopml server.
        tracking_token: the token the REST client sends a loopml server that checks tokens
            (``Authorization: Bearer``); see ``loopml tokens``.
        server_auth_file: for ``loopml server``: a token file (made by ``loopml tokens
            create``); when set, every request but ``/health`` and the API docs needs one of
            its tokens. Empty: no authentication.
        s3_endpoint_url: endpoint of an S3-compatible server (empty: AWS's default).
        allow_unapproved_champion: let the registry set the ``champion`` alias on a version
            that is not approved.
        require_passing_gate: approve a model version only when its latest release-gate
            verdict (``loopml gate``) passed.
        user: who the model registry's audit log names for changes made from this process
            (empty: the login name).
        run_tags: tags set on every run this process starts (``key=value`` pairs separated
            by commas), e.g. a CI build number.
        data_sync: flush the blobs ``loopml data add`` and ``pull`` store to disk before
            the version is recorded. Off is faster on slow disks, but a crash soon after may
            leave recorded versions whose files are lost.
        deployment_poll_interval: seconds between a model server's checks of its deployment
            record and of the registry aliases it follows.
        prediction_log_flush_interval: seconds a prediction log row may wait before the
            writer flushes it to a Parquet file.
        prediction_log_max_rows: buffered prediction log rows that make the writer flush.
        prediction_log_queue_size: requests the prediction log writer may have queued; past
            that, entries are dropped (and counted), never waited for.
        shadow_queue_size: requests a shadow model may have queued; past that, shadow
            requests are dropped (and counted).
        serving_threads: threads a model server runs ``predict`` on.
        serving_max_body_mb: the largest request body a model server reads (MiB); a larger
            one is refused with 413 before it is read whole.
        serving_auth_file: a token file (``loopml tokens create``) whose tokens a model
            server requires on its prediction and metadata routes; empty: none.
        monitor_retries: times ``loopml monitor serve`` checks a ``failed`` or ``no_data``
            window again (0: never).
        monitor_retry_backoff: seconds after a failed or empty check before the first
            re-check; each next one waits twice as long.
    """

    tracking_uri: str = DEFAULT_TRACKING_URI
    artifact_uri: str = ""
    experiment_name: str = ""
    async_logging: bool = True
    flush_interval: float = 1.0
    flush_max_points: int = 10_000
    capture_context: bool = True
    capture_packages: bool = True
    sqlite_busy_timeout: int = 60_000
    http_timeout: float = 30.0
    tracking_token: str = field(default="", repr=False)
    server_auth_file: str = ""
    s3_endpoint_url: str = ""
    allow_unapproved_champion: bool = False
    require_passing_gate: bool = False
    user: str = ""
    run_tags: str = ""
    data_sync: bool = True
    deployment_poll_interval: float = 1.0
    prediction_log_flush_interval: float = 5.0
    prediction_log_max_rows: int = 100_000
    prediction_log_queue_size: int = 10_000
    shadow_queue_size: int = 100
    serving_threads: int = 2
    serving_max_body_mb: int = 64
    serving_auth_file: str = ""
    monitor_retries: int = 3
    monitor_retry_backoff: float = 60.0
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (the values are validated)."""
        return _validated(dataclasses.replace(self, **changes))


def _coerce(name: str, kind: type, raw: Any) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"setting {name!r} has the value {raw!r}, which is not a {kind.__name__}; "
            f"set {_PREFIX}{name.upper()} to a valid {kind.__name__}"
        ) from exc
    return text


def _validated(settings: Settings) -> Settings:
    if settings.flush_interval <= 0:
        raise ConfigurationError("flush_interval must be > 0 seconds")
    if settings.flush_max_points < 1:
        raise ConfigurationError("flush_max_points must be >= 1")
    if settings.sqlite_busy_timeout < 0:
        raise ConfigurationError("sqlite_busy_timeout must be >= 0 milliseconds")
    if not settings.tracking_uri:
        raise ConfigurationError("tracking_uri must not be empty")
    if settings.deployment_poll_interval <= 0 or settings.prediction_log_flush_interval <= 0:
        raise ConfigurationError(
            "deployment_poll_interval and prediction_log_flush_interval must be > 0 seconds"
        )
    parse_run_tags(settings.run_tags)
    for name in (
        "prediction_log_max_rows",
        "prediction_log_queue_size",
        "shadow_queue_size",
        "serving_threads",
        "serving_max_body_mb",
    ):
        if getattr(settings, name) < 1:
            raise ConfigurationError(f"{name} must be >= 1")
    if settings.monitor_retries < 0 or not settings.monitor_retry_backoff >= 0:
        raise ConfigurationError("monitor_retries and monitor_retry_backoff must be >= 0")
    return settings


def parse_run_tags(text: str) -> dict[str, str]:
    """The ``run_tags`` setting as a dict (ConfigurationError when malformed)."""
    tags: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"run_tags must be key=value pairs separated by commas; {part.strip()!r} is not"
            )
        tags[key.strip()] = value.strip()
    return tags


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    explicit = environ.get(_PREFIX + "CONFIG")
    path = Path(explicit) if explicit else Path("loopml.toml")
    if not path.is_file():
        if explicit:
            raise ConfigurationError(f"LOOPML_CONFIG names {path}, which is not a file")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc}") from exc
    section = data.get("loopml", data)
    if not isinstance(section, dict):
        raise ConfigurationError(f"{path}: the [loopml] section must be a table")
    return section


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and the config file.

    Args:
        environ: the environment to read (``os.environ`` when omitted).
        **overrides: values that win over both.

    Raises:
        ConfigurationError: a value has the wrong type or an unknown key is in the file.
    """
    env = os.environ if environ is None else environ
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    for key, raw in _config_file(env).items():
        if key not in known:
            raise ConfigurationError(
                f"unknown setting {key!r} in the config file; known: {', '.join(sorted(known))}"
            )
        values[key] = raw
    for name in known:
        raw = env.get(_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    typed = {}
    for name, raw in values.items():
        if name not in known:
            raise ConfigurationError(f"unknown setting {name!r}")
        kind = {"bool": bool, "int": int, "float": float}.get(str(known[name].type), str)
        typed[name] = _coerce(name, kind, raw)
    return _validated(Settings(**typed))
