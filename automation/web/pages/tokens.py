"""The API tokens page: my tokens in the current workspace (owners: every token of it) with name, prefix,
read-only, created, last used and revoked; creating one (shown once, with a copy button) and revoking.

The rules and the audit entries live in automation/tokens.py.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from automation import tokens
from automation.models import ApiToken, Role, db
from automation.scoping import MAX_ID
from automation.web.pages import pages


def _page(status: int = 200, **values: Any) -> tuple[str, int]:
    values.setdefault("errors", {})
    values.setdefault("form", {"name": "", "read_only": False})
    return render_template("pages/tokens.html", rows=db.session.scalars(tokens.visible(g.identity)).all(),
                           viewer=g.identity.role == Role.VIEWER, **values), status


@pages.get("/tokens", endpoint="tokens")
def tokens_page() -> tuple[str, int]:
    return _page()


@pages.post("/tokens")
def token_create() -> tuple[str, int]:
    form = {"name": request.form.get("name", ""), "read_only": "read_only" in request.form}
    try:
        row, token = tokens.create(g.identity, current_user, form["name"], form["read_only"])
    except tokens.TokenError as exc:
        return _page(422, form=form, errors={exc.field or "name": str(exc)})
    return _page(201, new_token=token, new_row=row)


@pages.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int) -> Response:
    row = db.session.scalar(tokens.visible(g.identity).where(ApiToken.id == token_id)) if token_id <= MAX_ID else None
    if row is None:
        abort(404, description="no such token among the ones you can see")
    if tokens.revoke(row, current_user):
        flash(f"The token “{row.name or row.prefix}” is revoked; it stops working at once.", "success")
    else:
        flash(f"The token “{row.name or row.prefix}” was already revoked.", "info")
    return redirect(url_for("pages.tokens"))
