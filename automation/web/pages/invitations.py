"""Accepting an invitation from its signed link, ``/invitations/<token>`` (automation/invitations.py).

The page is public: the link is what lets in a person who has no account yet. What it offers depends on who
opens it. Nobody signed in and no account with the invited email: a form for a name and a password creates
the account and joins. An account exists: sign in first (the sign-in page brings them back). Signed in with
the invited email: a button joins. Signed in as someone else: it says so and offers to sign out. A GET never
joins (mail scanners fetch links); every POST carries the CSRF token. Expired, used, revoked and tampered
links each say what happened.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from automation import invitations
from automation.models import Invitation, User, db
from automation.web.pages import pages
from automation.web.sessions import choose_workspace

TEMPLATE = "pages/invitation.html"
# A link that is not genuine is a bad request; a genuine one that can no longer be used is gone.
STATUS = {"refused": 400, "expired": 410, "revoked": 410, "used": 410}


class NewAccountForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("enter your name"), Length(max=200)])
    password = PasswordField("Password", validators=[
        DataRequired("choose a password"), Length(min=invitations.MIN_PASSWORD, max=200)])
    confirm = PasswordField("Password again", validators=[
        DataRequired("enter the password again"), EqualTo("password", "the passwords differ")])


class ConfirmForm(FlaskForm):
    """Only the CSRF token: joining as the signed-in user, or signing out."""


@pages.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str) -> tuple[str, int] | Response:
    try:
        found = invitations.read(token)
    except invitations.LinkProblem as exc:
        return _page(exc.state, STATUS[exc.state], message=exc.message, invitation=exc.invitation)
    if current_user.is_authenticated:
        return _signed_in(found, token)
    if db.session.scalar(sa.select(User.id).where(User.email == found.email)) is not None:
        return _page("sign_in", 200, invitation=found,
                     sign_in_url=url_for("pages.login", next=url_for("pages.invitation", token=token)))
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            user = invitations.accept(found, None, name=form.name.data or "", password=form.password.data or "")
        except invitations.LinkProblem as exc:
            return _page(exc.state, STATUS[exc.state], message=exc.message, invitation=exc.invitation)
        except invitations.InvitationError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            login_user(user)
            return _joined(found)
    return _page("new_account", 422 if form.errors else 200, invitation=found, form=form)


def _signed_in(found: Invitation, token: str) -> tuple[str, int] | Response:
    form = ConfirmForm()
    if form.validate_on_submit() and request.form.get("action") == "sign_out":
        logout_user()
        return redirect(url_for("pages.invitation", token=token))
    if current_user.email != found.email:
        return _page("other_account", 403, invitation=found, form=form)
    if form.validate_on_submit():
        try:
            invitations.accept(found, current_user)
        except invitations.LinkProblem as exc:
            return _page(exc.state, STATUS[exc.state], message=exc.message, invitation=exc.invitation)
        return _joined(found)
    return _page("confirm", 200, invitation=found, form=form)


def _joined(found: Invitation) -> Response:
    choose_workspace(found.workspace_id)
    flash(f"Welcome to “{found.workspace.name}”: you are a member now, as {found.role}.", "success")
    return redirect(url_for("pages.home"))


def _page(state: str, status: int, **values: Any) -> tuple[str, int]:
    return render_template(TEMPLATE, state=state, **values), status
