"""The Flask application factory, and ``app`` for ``gunicorn app:app``."""

from __future__ import annotations

import atexit
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate

from automation import logs, metrics
from automation.config import Settings, database_url, instance_secret, sqlite_url
from automation.embedded_redis import EmbeddedRedis
from automation.error_reporting import init_error_reporting
from automation.models import db
from automation.redaction import install_log_redaction
from automation.redis_client import init_redis
from automation.scoping import install as install_workspace_scoping
from automation.secret_box import init_secret_box
from automation.storage import engine_options, init_storage
from integrations.registry import load_plugins

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")
migrate = Migrate()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: settings from the environment, then ``config`` on top (tests pass a mapping).

    Raises:
        ConfigError: when an environment variable has a value Relay cannot use.
    """
    # No app-level static folder: the pages blueprint serves automation/web/static at /static.
    app = Flask("automation", instance_relative_config=True, static_folder=None,
                instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.config.update(Settings.from_env().as_flask_config())
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config["DATABASE_URL"] = database_url(app.config.get("DATABASE_URL") or sqlite_url(app.instance_path))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    if not app.config.get("REDIS_URL"):
        app.config["REDIS_URL"] = _embedded_redis_url(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["DATABASE_URL"]))
    app.config["MAX_CONTENT_LENGTH"] = app.config["RELAY_MAX_BODY_BYTES"]

    db.init_app(app)
    install_workspace_scoping(db)
    migrate.init_app(app, db, directory=MIGRATIONS)
    init_storage(app)
    init_redis(app)
    init_secret_box(app)
    install_log_redaction()
    logs.install_context()
    metrics.init(app)
    init_error_reporting(app)
    load_plugins(app.config["RELAY_PLUGINS"])

    from automation.web import register_blueprints  # noqa: PLC0415 - views import models and the app context
    from automation.web.security import init_security  # noqa: PLC0415

    register_blueprints(app)
    init_security(app)
    return app


def _embedded_redis_url(instance_path: str) -> str:
    embedded = EmbeddedRedis(Path(instance_path) / "redis")
    if not embedded.is_running():
        embedded.start()
        atexit.register(embedded.stop)
    return embedded.url


def __getattr__(name: str) -> Flask:
    # `gunicorn app:app` asks for `app`; building it lazily keeps importing this module free of I/O.
    if name == "app":
        from automation.workflow_checks import log_workflow_health  # noqa: PLC0415

        application = create_app()
        logs.configure(application.config)
        log_workflow_health(application, "web")
        globals()["app"] = application
        return application
    raise AttributeError(name)
