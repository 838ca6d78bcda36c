"""The app factory builds an app from settings and serves /health without touching storage."""


def test_health_answers_while_process_is_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_factory_takes_test_settings(app, settings):
    assert app.config["DATABASE_URL"] == settings["DATABASE_URL"]
    assert app.config["RELAY_QUEUE"] == settings["RELAY_QUEUE"]
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["RELAY_MAX_BODY_BYTES"]
