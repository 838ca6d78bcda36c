"""REST API v1, API tokens: list the ones the caller may see (an owner: all of the workspace's), create one
for the caller (the token is in the answer this once) and revoke one. Rules in automation/tokens.py."""

from __future__ import annotations

from flask import Response, g, jsonify

from automation import tokens
from automation.accounts import describe_token
from automation.models import ApiToken, User, db
from automation.scoping import MAX_ID
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.request_input import json_object

TOKEN_FIELDS = frozenset({"name", "read_only"})


def _actor() -> User:
    user = db.session.get(User, g.identity.user_id)
    assert user is not None  # authenticate_token refuses tokens of deleted users
    return user


@api.get("/tokens")
def list_tokens() -> Response:
    return jsonify(items=[describe_token(row) for row in db.session.scalars(tokens.visible(g.identity))])


@api.post("/tokens")
def create_token() -> tuple[Response, int]:
    body = json_object(allow_empty=True)
    unknown = sorted(set(body) - TOKEN_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})
    try:
        row, token = tokens.create(g.identity, _actor(), body.get("name"), body.get("read_only", False))
    except tokens.TokenError as exc:
        details = [{"path": exc.field, "message": str(exc)}] if exc.field else None
        raise ApiError(exc.status, str(exc), details=details) from None
    return jsonify({**describe_token(row), "token": token}), 201


@api.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    row = db.session.scalar(tokens.visible(g.identity).where(ApiToken.id == token_id)) if token_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, f"no token with id {token_id}")
    if not tokens.revoke(row, _actor()):
        raise ApiError(409, "the token is already revoked")
    return jsonify(describe_token(row))
