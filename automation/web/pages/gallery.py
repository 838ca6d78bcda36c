"""The template gallery, a template's setup form (creating a workflow from it), and the schedule preview the
form's script asks for while a person types a cron expression."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, g, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response

from automation.definitions import DefinitionError, Problem
from automation.template_instances import create_from_template
from automation.templates import Template, library
from automation.web.errors import error_response
from automation.web.pages import pages, require_editor
from automation.web.pages.template_forms import (
    build_fields,
    check_only,
    cleared_required,
    connector_titles,
    general_errors,
    given_params,
    schedule_preview,
)

PREVIEW_ARGS = ("cron", "every", "timezone")
# The library names Lucide icons; the gallery shows a matching emoji rather than shipping an icon font.
ICONS = {
    "activity": "📈", "bar-chart": "📊", "calendar-clock": "📅", "coffee": "☕", "credit-card": "💳",
    "file-clock": "🧾", "life-buoy": "🛟", "mail": "✉️", "newspaper": "📰", "package": "📦", "receipt": "🧾",
    "rocket": "🚀", "shuffle": "🔀", "siren": "🚨", "truck": "🚚", "user-plus": "👤",
}


@dataclass(frozen=True)
class Card:
    """One template as the gallery shows it."""

    template: Template
    icon: str
    connectors: list[str]

    @property
    def search_text(self) -> str:
        """What the search looks through: name, description, category and connectors, in lowercase."""
        parts = (self.template.name, self.template.description, self.template.category, *self.connectors)
        return " ".join(parts).lower()


def cards() -> list[Card]:
    """Every template by category, then name."""
    found = [Card(t, ICONS.get(t.icon, "⚙️"), connector_titles(t.connectors)) for t in library().values()]
    return sorted(found, key=lambda card: (card.template.category, card.template.name))


@pages.get("/templates")
def gallery() -> str:
    """The templates, filtered by ``?category=`` and searched by ``?q=`` (every word must appear); the script
    does the same as one types."""
    everything = cards()
    category = request.args.get("category", "").strip()
    query = request.args.get("q", "").strip()
    shown = {card.template.key for card in everything if (not category or card.template.category == category)
             and all(word in card.search_text for word in query.lower().split())}
    categories = sorted({card.template.category for card in everything})
    # Every card is on the page and the others are hidden, so the script can filter again without a reload.
    return render_template("pages/gallery.html", cards=everything, shown=shown, categories=categories,
                           category=category, query=query)


@pages.get("/templates/schedule-preview")
def schedule_preview_json() -> Response:
    """``?cron=0 9 * * MON-FRI&timezone=Europe/Berlin`` or ``?every=15m``: the schedule in words and its next
    runs, or a 422 with each problem (JSON, for the setup form's script)."""
    unknown = sorted(set(request.args) - set(PREVIEW_ARGS))
    if unknown:
        return error_response(400, f"unknown query parameter(s): {', '.join(unknown)}; use cron, every and timezone")
    spec = {name: request.args[name] for name in PREVIEW_ARGS if request.args.get(name, "").strip()}
    preview, problems = schedule_preview(spec)
    if preview is None:
        return error_response(
            422, "; ".join(p.message for p in problems),
            details=[{"path": p.path.removeprefix("trigger.schedule").lstrip(".") or "schedule", "message": p.message}
                     for p in problems],
        )
    return jsonify(preview.to_dict())


@pages.route("/templates/<key>", methods=["GET", "POST"])
def template_setup(key: str) -> Response | str:
    """The template's form; a valid submission creates the workflow (published unless unticked) and opens it."""
    template = library().get(key)
    if template is None:
        abort(404, description=f"there is no template {key!r}")
    if request.method == "GET":
        return _render(template, None, template.name, publish=True)
    require_editor()
    name = request.form.get("name", "").strip()
    publish = request.form.get("publish") == "on"
    given = given_params(template, request.form)
    cleared = cleared_required(template, request.form)
    try:
        if cleared:
            raise DefinitionError(cleared + check_only(g.identity.workspace_id, template, name, given))
        workflow = create_from_template(g.identity.workspace_id, template.key, name or None, given,
                                        author_id=g.identity.user_id, publish=publish)
    except DefinitionError as exc:
        return _render(template, exc.problems, name, publish=publish)
    flash(f"“{workflow.name}” is {'published and running' if publish else 'saved as a draft'}.", "success")
    return redirect(f"/workflows/{workflow.id}")


def _render(template: Template, problems: list[Problem] | None, name: str, *, publish: bool) -> str:
    submitted = None if problems is None else request.form
    fields = build_fields(template, g.identity.workspace_id, submitted, problems or ())
    return render_template(
        "pages/template_setup.html", template=template, fields=fields, name=name, publish=publish,
        icon=ICONS.get(template.icon, "⚙️"), connectors=connector_titles(template.connectors),
        name_errors=[p.message for p in problems or () if p.path == "name"],
        errors=general_errors(template, problems or ()),
    )
