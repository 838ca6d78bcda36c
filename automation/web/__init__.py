"""Flask blueprints: ops (health), api (REST v1 and the older /api), hooks (incoming webhooks,
rate-limited) and pages (browser sessions with CSRF), plus the API's error shape."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from automation.web import (  # noqa: F401, PLC0415 - register views on `api`
        api_analytics,
        api_approvals,
        api_audit,
        api_connections,
        api_executions,
        api_members,
        api_schedules,
        api_templates,
        api_tokens,
        api_versions,
    )
    from automation.web.api import api  # noqa: PLC0415
    from automation.web.api_compat import api_compat  # noqa: PLC0415
    from automation.web.correlation import init_correlation  # noqa: PLC0415
    from automation.web.errors import register_error_handlers  # noqa: PLC0415
    from automation.web.hooks import hooks  # noqa: PLC0415
    from automation.web.metrics_view import metrics_view  # noqa: PLC0415
    from automation.web.ops import ops  # noqa: PLC0415
    from automation.web.pages import pages  # noqa: PLC0415
    from automation.web.rate_limits import init_rate_limits  # noqa: PLC0415
    from automation.web.sessions import init_sessions  # noqa: PLC0415

    app.register_blueprint(ops)
    app.register_blueprint(api)
    app.register_blueprint(api_compat)
    app.register_blueprint(hooks)
    app.register_blueprint(pages)
    app.register_blueprint(metrics_view)
    init_correlation(app)
    register_error_handlers(app)
    init_rate_limits(app, hooks)
    init_sessions(app, exempt=[api, api_compat, hooks, ops])
