"""First-run owner setup, sign-in, sign-out and password change.

Sign-ins, failed sign-ins and password changes go to the audit trail of every workspace the person belongs
to. A failed sign-in is not proven to be the person, so its entry names the email, not the user; a failed
sign-in for an email nobody has has no workspace to go to and is logged instead (never the password).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from automation import audit
from automation.accounts import AccountError, change_password, check_password, create_user, has_users
from automation.models import User, db
from automation.web.pages import pages

log = logging.getLogger(__name__)

MIN_PASSWORD = 8


class SetupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    confirm = PasswordField("Password again", validators=[DataRequired(), EqualTo("password", "the passwords differ")])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("new", "the passwords differ")])


@pages.route("/setup", methods=["GET", "POST"])
def setup() -> Response | str:
    """The first visit: create the owner. Gone once anyone exists."""
    if has_users():
        return redirect(url_for("pages.login"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data or "", form.password.data or "", "owner", name=form.name.data or "")
        except AccountError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            login_user(user)
            flash(f"Welcome, {user.name or user.email}. Pick a template to build your first workflow.", "success")
            return redirect(url_for("pages.home"))
    return render_template("pages/setup.html", form=form)


@pages.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    form = LoginForm()
    if form.validate_on_submit():
        user = check_password(form.email.data or "", form.password.data or "")
        if user is not None:
            audit.record_for_user(user, "user.sign_in", actor=user)
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        _record_failed_sign_in(form.email.data or "")
        form.password.errors = [*form.password.errors, "the email or the password is not right"]
    return render_template("pages/login.html", form=form)


@pages.post("/logout")
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("pages.login"))


@pages.route("/account", methods=["GET", "POST"])
def account() -> Response | str:
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        # Added first so change_password's commit stores the new hash and its entries together.
        audit.record_for_user(user, "user.password_change", actor=user)
        try:
            change_password(user, form.current.data or "", form.new.data or "")
        except AccountError as exc:
            db.session.rollback()
            form.current.errors = [*form.current.errors, str(exc)]
        else:
            flash("Your password is changed.", "success")
            return redirect(url_for("pages.account"))
    return render_template("pages/account.html", form=form)


def _record_failed_sign_in(email: str) -> None:
    email = email.strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        log.warning("failed sign-in for unknown email %r from %s", email, request.remote_addr)
        return
    audit.record_for_user(user, "user.sign_in_failed", actor=None, actor_label=user.email)
    db.session.commit()


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an absolute or scheme-relative URL would make sign-in an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("pages.home")
