"""Deciding an approval from a notification's signed link, without signing in (automation/approval_links.py).

``GET /approvals/act/<token>`` only shows what the link would decide, with a confirm form: mail scanners
and link previews fetch links, so a GET never decides. The form's POST (with CSRF) decides through
automation/approvals.py as the member the link was sent to, with the same rules as the inbox and the API:
a task delegated or escalated away from them is no longer theirs to decide, and a task no longer pending
says who decided it and when. The signed token is the authority here, so the task is read by its id with
the workspace scope switched off (``ALL_WORKSPACES``); the decider's membership is checked in the task's
own workspace.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from automation import approval_links, approvals
from automation.approval_inbox import assignee_label, urgency
from automation.models import ApprovalStatus, ApprovalTask, Membership, Role, User, db, utcnow
from automation.scoping import ALL_WORKSPACES
from automation.web.pages import pages

OUTCOMES = {"approve": ApprovalStatus.APPROVED, "reject": ApprovalStatus.REJECTED}
TEMPLATE = "pages/approval_link.html"


class ConfirmForm(FlaskForm):
    comment = TextAreaField("Comment", validators=[Length(max=4000)])


@pages.route("/approvals/act/<token>", methods=["GET", "POST"])
def approval_link(token: str) -> tuple[str, int]:
    try:
        link = approval_links.read(token)
    except approval_links.LinkExpired as exc:
        return _page("expired", 410, task=_task(exc.link.task_id), message=str(exc))
    except approval_links.LinkRefused as exc:
        return _page("refused", 400, message=str(exc))
    task = _task(link.task_id)
    if task is None:
        return _page("refused", 404, message="the approval this link was for no longer exists")
    if task.status != ApprovalStatus.PENDING:
        return _decided(task, 409 if request.method == "POST" else 200)
    actor = _actor(task, link.recipient_id)
    if actor is None:
        return _page("refused", 403, task=task,
                     message="the person this link was sent to can no longer decide approvals in this workspace")
    if not approvals.may_decide(task, actor.user.id, actor.role):
        return _page("refused", 403, task=task, message=f"this approval was moved to "
                     f"{assignee_label(task)}, so this link no longer decides it")
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            approvals.decide(task, actor, OUTCOMES[link.decision], form.comment.data)
        except approvals.Conflict as exc:
            db.session.refresh(task)
            if task.status != ApprovalStatus.PENDING:
                return _decided(task, 409)
            error = str(exc)
        except approvals.DecisionError as exc:
            error = str(exc)
        else:
            return _page("done", 200, task=task, decider=actor.user.email)
    return _page("confirm", 422 if error else 200, task=task, form=form, decision=link.decision, error=error,
                 decider=actor.user.email, urgency=urgency(task, utcnow()))


def _task(task_id: int) -> ApprovalTask | None:
    # The signed link names the task; a signed-in visitor's own workspace has no say in which one it is.
    return db.session.get(ApprovalTask, task_id, execution_options=ALL_WORKSPACES)


def _decided(task: ApprovalTask, status: int) -> tuple[str, int]:
    decider = db.session.get(User, task.decided_by_id) if task.decided_by_id else None
    return _page("decided", status, task=task, decider=decider.email if decider else None)


def _actor(task: ApprovalTask, user_id: int) -> approvals.Actor | None:
    """The link's recipient as a decider in the task's workspace; None once deactivated or no longer a member."""
    found = db.session.execute(
        sa.select(User, Membership.role).join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.workspace_id == task.workspace_id)
    ).first()
    if found is None or not found[0].is_active:
        return None
    return approvals.Actor(user=found[0], role=Role(found[1]), ip=request.remote_addr)


def _page(state: str, status: int, **values: Any) -> tuple[str, int]:
    # Where to decide instead: the approvals inbox (after signing in), or the home page until it exists.
    inbox = "pages.approvals" if "pages.approvals" in current_app.view_functions else "pages.home"
    return render_template(TEMPLATE, state=state, inbox_url=url_for(inbox), **values), status
