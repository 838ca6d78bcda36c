"""The workspace switcher and the workspaces page: which workspaces I belong to, switching the session to
another one, and creating a new workspace (its creator becomes its owner).

The chosen workspace is kept in the session (automation/web/sessions.py); the page guard checks on every
request that the user is still a member there, else it falls back to their first workspace.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired

from automation import members
from automation.web.pages import OWNER_NAV, pages
from automation.web.sessions import choose_workspace


class WorkspaceForm(FlaskForm):
    name = StringField("Workspace name", validators=[DataRequired("a workspace needs a name")])


@pages.app_context_processor
def workspace_globals() -> dict[str, object]:
    """The signed-in user's workspaces for the switcher in the header (only pages with an identity have it)."""
    identity = g.get("identity")
    choices = members.workspaces_of(identity.user_id) if identity is not None and identity.token_id is None else []
    return {"workspace_choices": choices, "owner_nav": OWNER_NAV}


@pages.get("/workspaces")
def workspaces() -> str:
    return render_template("pages/workspaces.html", form=WorkspaceForm(), choices=members.workspaces_of(
        g.identity.user_id))


@pages.post("/workspaces")
def workspace_create() -> tuple[str, int] | Response:
    form = WorkspaceForm()
    if form.validate_on_submit():
        try:
            workspace = members.create_workspace(form.name.data, owner=current_user)
        except members.MemberError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            choose_workspace(workspace.id)
            flash(f"The workspace “{workspace.name}” is created, with you as its owner. You are working in it now.",
                  "success")
            return redirect(url_for("pages.home"))
    return render_template("pages/workspaces.html", form=form,
                           choices=members.workspaces_of(g.identity.user_id)), 422


@pages.post("/workspace")
def workspace_switch() -> Response:
    """Work in another of my workspaces; one I am not a member of does not exist as far as I can tell (404)."""
    raw = request.form.get("workspace_id", "")
    mine = {choice.id: choice for choice in members.workspaces_of(g.identity.user_id)}
    choice = mine.get(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    if choice is None:
        abort(404, description="you are not a member of that workspace")
    choose_workspace(choice.id)
    flash(f"You are working in “{choice.name}” now, as {choice.role}.", "info")
    return redirect(url_for("pages.home"))
