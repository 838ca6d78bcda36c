"""The audit page for owners: the workspace's audit trail filtered like ``GET /api/v1/audit``, newest first,
a page at a time, each entry with what changed (before → after by key), and the same entries as CSV."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, render_template, request, stream_with_context

from automation.models import AuditLog, db, utcnow
from automation.web import audit_query
from automation.web.pages import pages, require_owner
from automation.web.pages.workflow_view import VIEW_HELPERS

PER_PAGE = 50


@pages.get("/audit", endpoint="audit")
def audit_page() -> tuple[str, int]:
    """A bad filter shows next to its field (400), with no entries below it."""
    require_owner()
    args = {name: request.args.get(name, "").strip() for name in audit_query.FILTERS}
    errors: dict[str, list[str]] = {}
    rows: list[AuditLog] = []
    total = 0
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    try:
        select = audit_query.query(args)
    except audit_query.FilterError as exc:
        errors[exc.parameter] = [exc.message]
    else:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(select.subquery())) or 0
        rows = list(db.session.scalars(select.limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    filters = {name: value for name, value in args.items() if value}
    html = render_template(
        "pages/audit.html", rows=rows, args=args, filters=filters, errors=errors, page=page, total=total,
        per_page=PER_PAGE, has_next=page * PER_PAGE < total, changes=audit_query.changes, **VIEW_HELPERS,
    )
    return html, 400 if errors else 200


@pages.get("/audit.csv", endpoint="audit_csv")
def audit_csv() -> Response | tuple[str, int]:
    """Every entry matching the filters as CSV; a bad filter is the page again with its error."""
    require_owner()
    args = {name: request.args.get(name, "").strip() for name in audit_query.FILTERS}
    try:
        select = audit_query.query(args)
    except audit_query.FilterError:
        return audit_page()
    lines = audit_query.csv_lines(select)
    filename = f"relay-audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
