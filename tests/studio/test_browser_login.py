"""The studio with logins, in Chromium: the login page, a wrong password and a lock-out that
read the same, the HttpOnly session cookie, logout, a session ended on the server, role
denials through a crafted websocket event, and the admin's settings pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

import runtime as rt
from runtime import client as client_module
from runtime.auth.users import Users
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio_login")
    setup = rt.connect(f"sqlite:///{home / 'plait.db'}", home=home)
    users = Users(setup.store)
    for name, role in (("ada", "admin"), ("eve", "editor"), ("vic", "viewer"), ("lou", "viewer")):
        users.add(name, role, PASSWORD)
    setup.close()
    s = start_studio({}, home, "embedded")
    s.connect().publish(flows.approval)
    yield s
    stop_studio(s)
    client_module._default = None


@pytest.fixture
def fresh(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    yield context.new_page()
    context.close()


def log_in(page: Page, studio: Studio, name: str, password: str = PASSWORD) -> None:
    page.goto(studio.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login-submit")


def test_login_logout_and_the_session_cookie(studio: Studio, fresh: Page, artifacts) -> None:  # type: ignore[no-untyped-def]
    page = fresh
    page.goto(studio.url + "/runs")
    page.wait_for_url(re.compile(r"/login\?next=%2Fruns"), timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_login.png"))
    page.fill("#name", "vic")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-message")).to_have_text("Wrong name or password.")
    page.fill("#password", PASSWORD)
    page.fill("#name", "vic")
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/runs/?$"), timeout=TIMEOUT)
    expect(page.locator("#session-user")).to_have_text("vic · viewer", timeout=TIMEOUT)
    cookie = next(c for c in page.context.cookies() if c["name"] == "plait_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("plait_session") == -1
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login\?out=1"), timeout=TIMEOUT)
    expect(page.locator("#login-message")).to_have_text("You are logged out.")
    page.goto(studio.url + "/runs")
    page.wait_for_url(re.compile(r"/login\?next="), timeout=TIMEOUT)


def test_a_locked_out_account_gets_the_answer_of_a_wrong_password(
    studio: Studio, fresh: Page
) -> None:
    for _ in range(5):
        log_in(fresh, studio, "lou", "wrong guess here")
        expect(fresh.locator("#login-message")).to_have_text("Wrong name or password.")
    log_in(fresh, studio, "lou")  # the right password, but locked out
    expect(fresh.locator("#login-message")).to_have_text("Wrong name or password.")
    assert "/login" in fresh.url or fresh.url.endswith("/auth/login")


def test_a_viewers_crafted_cancel_changes_nothing(studio: Studio, fresh: Page) -> None:
    run_id = studio.connect().start(flows.approval, {}).wait(30).id
    page = fresh
    crafted: list[str] = []

    def craft(ws: WebSocketRoute) -> None:
        """The viewer's browser turns its "open the share dialog" event into "cancel the
        run" on its way to the server, over the real websocket."""
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and ".open_share" in message:
                message = message.replace(".open_share", ".cancel_run")
                crafted.append(message)
            server.send(message)

        ws.on_message(from_page)
        server.on_message(ws.send)

    page.route_web_socket(re.compile(r"/_event"), craft)
    log_in(page, studio, "vic")
    page.wait_for_url(re.compile(r"/$"), timeout=TIMEOUT)
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("waiting", timeout=TIMEOUT)
    expect(page.locator("#cancel-run")).to_be_disabled()
    page.locator("#share-run").click()
    expect(page.locator(".plait-action-message")).to_contain_text(
        "not allowed: cancel runs takes the editor role", timeout=TIMEOUT
    )
    assert crafted, "the crafted event went out"
    assert studio.connect().get_run(run_id).status == "waiting"

    editor = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    log_in(editor, studio, "eve")
    editor.wait_for_url(re.compile(r"/$"), timeout=TIMEOUT)
    editor.goto(f"{studio.url}/runs/{run_id}")
    editor.locator("#cancel-run").click()
    editor.locator("#cancel-confirm").click()  # "Cancel this run?"
    expect(editor.locator("#run-status")).to_have_text("cancelled", timeout=TIMEOUT)
    editor.context.close()


def test_a_session_ended_on_the_server_sends_the_browser_to_the_login(
    studio: Studio, fresh: Page
) -> None:
    log_in(fresh, studio, "eve")
    fresh.wait_for_url(re.compile(r"/$"), timeout=TIMEOUT)
    c = studio.connect()
    Users(c.store).reset_password("eve", PASSWORD)  # ends every session of eve
    fresh.goto(studio.url + "/runs")
    fresh.wait_for_url(re.compile(r"/login\?.*ended=1"), timeout=TIMEOUT)
    expect(fresh.locator("#login-message")).to_contain_text("Your session ended")


def test_the_admin_makes_a_key_and_a_secret(studio: Studio, fresh: Page, artifacts) -> None:  # type: ignore[no-untyped-def]
    page = fresh
    log_in(page, studio, "ada")
    page.wait_for_url(re.compile(r"/$"), timeout=TIMEOUT)
    page.goto(studio.url + "/settings/keys")
    page.fill("input[name=name]", "ci")
    page.click("#create-key")
    expect(page.locator("#new-key-token")).to_contain_text("plait_", timeout=TIMEOUT)
    token = page.locator("#new-key-token").inner_text()
    status, me = studio.api_as(token, "GET", "/api/v1/me")
    assert status == 200 and me["name"] == "ci"
    page.goto(studio.url + "/settings/secrets")
    page.fill("input[name=name]", "OPENAI_API_KEY")
    page.fill("input[name=value]", "sk-browser-123456")
    page.click("#save-secret")
    row = page.locator('.plait-secret-row[data-secret="OPENAI_API_KEY"]')
    expect(row).to_contain_text("ada", timeout=TIMEOUT)
    assert "sk-browser-123456" not in page.content()
    page.goto(studio.url + "/settings/audit")
    expect(page.locator(".plait-audit")).to_contain_text("secret.create", timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_audit_log.png"), full_page=True)

    viewer = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    log_in(viewer, studio, "vic")
    viewer.wait_for_url(re.compile(r"/$"), timeout=TIMEOUT)
    viewer.goto(studio.url + "/settings/users")
    expect(viewer.locator(".plait-settings-message")).to_contain_text(
        "takes the admin role", timeout=TIMEOUT
    )
    expect(viewer.locator(".plait-user-row")).to_have_count(0)
    viewer.context.close()
