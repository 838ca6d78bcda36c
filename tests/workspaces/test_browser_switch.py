"""Switching workspaces in real headless Chromium, with the keyboard only, at 375 px: the switcher is in the
header, reachable with Tab, and the page comes back working in the chosen workspace with the role there."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, live_server, page  # noqa: F401 - the browser fixtures


def test_a_member_of_two_workspaces_switches_with_the_keyboard_on_a_phone(page, live_server, team):  # noqa: F811
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/")
    assert page.locator(".who .role").inner_text() == "owner"

    switcher = page.get_by_label("Workspace")
    box = switcher.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "workspace-switch":
            break
    assert page.evaluate("document.activeElement.id") == "workspace-switch"
    switcher.select_option(label="Acme (editor)")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Switch"
    page.keyboard.press("Enter")

    page.wait_for_selector(".flash")
    assert "You are working in “Acme” now, as editor." in page.locator(".flash").inner_text()
    assert page.locator(".who .role").inner_text() == "editor"
    assert page.locator("#workspace-switch option:checked").inner_text() == "Acme (editor)"
    assert page.locator('nav a[href="/members"]').count() == 0
