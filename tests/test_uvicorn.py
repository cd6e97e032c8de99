"""The real thing: `crm-graphql demo` then `crm-graphql serve` in a child process under
uvicorn, spoken to over a TCP socket (ASGI-transport tests cannot catch ORM context
bugs that only show under uvicorn)."""

from __future__ import annotations

import os

import httpx


async def test_login_then_viewer_over_real_uvicorn(demo_server: str) -> None:
    async with httpx.AsyncClient(base_url=demo_server, timeout=10) as http:
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation { login(username: "user1", password: "user1") '
                "{ token errors { code } } }"
            },
        )
        assert login.status_code == 200, login.text
        token = login.json()["data"]["login"]["token"]
        viewer = await http.post(
            "/graphql",
            json={"query": "{ viewer { username permissions } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert viewer.json() == {
            "data": {
                "viewer": {"username": "user1", "permissions": ["CR", "CW", "IR", "IW", "LR", "LW"]}
            }
        }
        assert viewer.headers["x-request-id"]
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "/static/graphiql/graphiql.min.js" in page.text


async def _web_form_token(http: httpx.AsyncClient) -> str:
    login = await http.post(
        "/graphql",
        json={"query": 'mutation { login(username: "user1", password: "user1") { token } }'},
    )
    session = login.json()["data"]["login"]["token"]
    created = await http.post(
        "/graphql",
        json={
            "query": 'mutation { apiTokenCreate(input: {name: "Web form", scope: LEADS_CREATE})'
            " { secret errors { code } } }"
        },
        headers={"Authorization": f"Bearer {session}"},
    )
    return created.json()["data"]["apiTokenCreate"]["secret"]


async def test_the_served_web_form_posts_from_any_origin(demo_server: str) -> None:
    import re

    async with httpx.AsyncClient(base_url=demo_server, timeout=10) as http:
        # The root points to the API; the example form is served, its URLs absolute.
        assert (await http.get("/")).json()["graphql"] == "/graphql"
        page = await http.get("/lead-web-form.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f'const ENDPOINT = "{demo_server}/graphql";' in page.text
        plain_form = page.text.split("<form")[2]
        action = re.search(r'action="([^"]+)"', plain_form)
        assert action is not None and action.group(1) == f"{demo_server}/include/api.php"
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', plain_form))
        assert fields["return_type"] == "html"
        fields["pass"] = await _web_form_token(http)

    # A copy of the page on another site: the browser posts the form there, urlencoded.
    visitor = {
        **fields,
        "fullname": "Zoë <b>Bold</b>",
        "company": "Acme",
        "email": "zoe@acme.example",
        "comments": "Call me",
    }
    other_site = {"Origin": "https://www.example.com", "Referer": "https://www.example.com/c"}
    async with httpx.AsyncClient(timeout=10) as browser:
        thanks = await browser.post(action.group(1), data=visitor, headers=other_site)
        assert thanks.status_code == 200, thanks.headers
        assert thanks.headers["content-type"].startswith("text/html")
        assert "<h1>Thank you</h1>" in thanks.text
        assert 'href="https://www.example.com/c"' in thanks.text
        assert thanks.headers["x-crm-lead-id"]
        # Something to correct: a page that says what, escaped, with a 4xx status.
        wrong = await browser.post(
            action.group(1),
            data={**visitor, "email": "nope", "tags": "<script>x</script>"},
            headers=other_site,
        )
        assert wrong.status_code == 400
        assert "could not be sent" in wrong.text
        assert "email: not a valid e-mail address" in wrong.text
        assert "<script>x" not in wrong.text and "&lt;script&gt;x" in wrong.text
        # Without return_type=html: the original's bare answer.
        bare = await browser.post(
            action.group(1), data={k: v for k, v in visitor.items() if k != "return_type"}
        )
        assert (bare.status_code, bare.text) == (200, "1")


def test_the_served_web_form_in_a_real_browser(demo_server: str) -> None:
    """Chromium opens /lead-web-form.html#token=..., fills in the form without
    JavaScript's help (form 2) and submits it: the visitor sees the thank-you page."""
    import asyncio

    from playwright.sync_api import sync_playwright

    from crm_graphql.services.pdf import find_chromium

    async def token() -> str:
        async with httpx.AsyncClient(base_url=demo_server, timeout=10) as http:
            return await _web_form_token(http)

    secret = asyncio.run(token())
    executable = find_chromium(os.environ.get("CRM_CHROMIUM_PATH", ""))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{demo_server}/lead-web-form.html#token={secret}")
            second = page.locator("form").nth(1)
            second.locator('input[name="fullname"]').fill("Browser Visitor")
            second.locator('input[name="email"]').fill("visitor@browser.example")
            second.locator('textarea[name="comments"]').fill("Hello from Chromium")
            with page.expect_navigation():
                second.locator("button").click()
            assert page.locator("h1").inner_text() == "Thank you"
        finally:
            browser.close()
