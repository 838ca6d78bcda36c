"""What a webhook request becomes: ``trigger.body``, ``headers``, ``query`` and ``method`` of a stored run,
without the caller's credentials; and the bodies that are refused, with nothing stored."""

from __future__ import annotations

import io

import pytest

from tests.hooks.conftest import stored_executions, trigger_of

pytestmark = pytest.mark.storage


@pytest.fixture
def path(make_hook) -> str:
    return make_hook()["path"]


def test_json_post_becomes_the_body_of_a_queued_webhook_run(client, path):
    response = client.post(path, json={"name": "Ada", "amount": 12.5, "tags": ["a", "b"]})

    assert response.status_code == 202
    assert response.get_json() == {"execution_id": 1, "status": "queued"}
    [execution] = stored_executions()
    assert (execution.trigger_kind, execution.status) == ("webhook", "queued")
    assert execution.trigger["body"] == {"name": "Ada", "amount": 12.5, "tags": ["a", "b"]}
    assert execution.trigger["method"] == "POST"


def test_a_json_array_body_is_kept_as_an_array(client, path):
    response = client.post(path, json=[{"id": 1}, {"id": 2}])

    assert trigger_of(response)["body"] == [{"id": 1}, {"id": 2}]


def test_vendor_json_types_are_parsed_as_json(client, path):
    response = client.post(path, data='{"event": "push"}', content_type="application/vnd.github+json")

    assert trigger_of(response)["body"] == {"event": "push"}


def test_form_fields_become_an_object_and_repeated_fields_a_list(client, path):
    response = client.post(path, data={"name": "Ada", "tag": ["a", "b"]})

    assert trigger_of(response)["body"] == {"name": "Ada", "tag": ["a", "b"]}


def test_multipart_fields_are_kept_and_files_only_described(client, path):
    response = client.post(path, content_type="multipart/form-data", data={
        "name": "Ada", "cv": (io.BytesIO(b"\x00\x01binary"), "cv.pdf", "application/pdf")})

    assert trigger_of(response)["body"] == {
        "name": "Ada", "cv": {"filename": "cv.pdf", "content_type": "application/pdf", "size": 8}}


def test_plain_text_is_kept_as_text(client, path):
    response = client.post(path, data="hello\nworld", content_type="text/plain")

    assert trigger_of(response)["body"] == "hello\nworld"


def test_text_in_a_declared_charset_is_decoded_with_it(client, path):
    response = client.post(path, data="Müller".encode("latin-1"), content_type="text/plain; charset=iso-8859-1")

    assert trigger_of(response)["body"] == "Müller"


def test_get_query_parameters_become_the_query(client, path):
    response = client.get(f"{path}?name=Ada&tag=a&tag=b")

    assert response.status_code == 202
    trigger = trigger_of(response)
    assert trigger["query"] == {"name": "Ada", "tag": ["a", "b"]}
    assert (trigger["method"], trigger["body"]) == ("GET", {})


def test_headers_are_lower_cased_and_credentials_are_not_stored(client, path):
    response = client.post(path, json={}, headers={
        "X-Event-Type": "lead.created", "Authorization": "Bearer secret-1", "Cookie": "session=secret-2",
        "Proxy-Authorization": "Basic secret-3"})

    headers = trigger_of(response)["headers"]
    assert headers["x-event-type"] == "lead.created"
    assert not {"authorization", "cookie", "proxy-authorization"} & set(headers)
    assert "secret-" not in str(headers)


def test_x_request_id_becomes_the_correlation_id(client, path):
    client.post(path, json={}, headers={"X-Request-ID": "req-42"})

    assert stored_executions()[0].correlation_id == "req-42"


def test_head_answers_without_starting_a_run(client, path):
    response = client.head(path)

    assert response.status_code == 200
    assert stored_executions() == []


@pytest.mark.parametrize(("data", "content_type", "status", "contains"), [
    ('{"name": ', "application/json", 400, "not valid JSON"),
    ('{"amount": NaN}', "application/json", 400, "not valid JSON"),
    ('{"name": "a\\u0000b"}', "application/json", 400, "NUL"),
    ('{"name": "\\ud800"}', "application/json", 400, "surrogate"),
    ("name=a%00b", "application/x-www-form-urlencoded", 400, "NUL"),
    (b"\xff\xfe\x00binary", "application/octet-stream", 415, "not utf-8 text"),
    ("text", "text/plain; charset=klingon", 415, "unknown charset"),
])
def test_unreadable_or_unstorable_bodies_are_refused_and_nothing_is_stored(client, path, data, content_type,
                                                                           status, contains):
    response = client.post(path, data=data, content_type=content_type)

    assert response.status_code == status
    assert contains.lower() in response.get_json()["error"]["message"].lower()
    assert stored_executions() == []


@pytest.mark.settings(RELAY_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_refused_with_413_json(client, path):
    response = client.post(path, data="x" * 1001, content_type="text/plain")

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert stored_executions() == []
