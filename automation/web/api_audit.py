"""REST API v1, the audit trail for owners: ``GET /api/v1/audit`` (filtered, paged, newest first) and the
same entries as a CSV download (``GET /api/v1/audit.csv`` or ``?format=csv``), streamed."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g, jsonify, request, stream_with_context

from automation.models import Role, db, utcnow
from automation.web import audit_query
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.request_input import page_args

FORMATS = frozenset({"json", "csv"})
# Rows fetched per round trip while streaming a CSV file.
CSV_BATCH = 500


@api.get("/audit")
def list_audit() -> Response:
    """Filters: action (exact, or a prefix ending in '.'), actor, target_type, target_id, from, to."""
    file_format = request.args.get("format", "json")
    if file_format not in FORMATS:
        raise ApiError(400, "query parameter 'format' must be json or csv", details={"parameter": "format"})
    if file_format == "csv":
        return export_audit()
    select = _query()
    page, per_page = page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(select.subquery())) or 0
    rows = db.session.scalars(select.limit(per_page).offset((page - 1) * per_page))
    return jsonify(items=[audit_query.entry_json(e) for e in rows], page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < total else None)


@api.get("/audit.csv")
def export_audit() -> Response:
    """Every matching entry, newest first; ``before``/``after`` as JSON text."""
    lines = audit_query.csv_lines(_query(), CSV_BATCH)
    filename = f"relay-audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _query() -> sa.Select:
    if g.identity.role != Role.OWNER:
        raise ApiError(403, f"only an owner can read the audit trail; a {g.identity.role.value} cannot")
    try:
        return audit_query.query(request.args)
    except audit_query.FilterError as exc:
        raise ApiError(400, exc.message, details={"parameter": exc.parameter}) from None
