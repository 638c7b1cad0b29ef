"""Journeys through the web interface in headless Chromium against a real `cercle run`, asserting what
the page shows: sign-up and onboarding, a closed community and its approval, posting with an image into
two communities, comments and reactions, finding a person by expertise, a charter refusal, accessibility."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.browser.conftest import (
    PHONE,
    Instance,
    accept_charter,
    accessibility_problems,
    new_context,
    screenshot,
    sign_in,
    skip_without_a_browser,
)

skip_without_a_browser()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (11, 87, 164)).save(buffer, format="PNG")
    return buffer.getvalue()


def create_community(page: Page, slug: str, name: str, visibility: str = "open") -> None:
    page.goto("/communities/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address (letters, digits and -)").fill(slug)
    page.get_by_label("Kind").select_option("practice")
    page.locator(f"#visibility-{visibility}").check()
    page.get_by_label("Description (Markdown)").fill(f"All about **{name}**.")
    page.get_by_label("Tags, separated by commas").fill("field, safety")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"**/c/{slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_sign_up_and_onboarding_with_charter_acceptance(page: Page) -> None:
    page.goto("/signup")
    page.get_by_label("User name").fill("dora")
    page.get_by_label("Full name").fill("Dora Keller")
    page.get_by_label("Work e-mail").fill("dora@corp.example")
    page.get_by_label("Password (10 characters or more)").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/welcome")
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()
    page.get_by_role("link", name="Read the charter").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("§")
    page.get_by_role("button", name="I have read and accept the charter").click()
    page.wait_for_url("**/welcome")
    expect(page.get_by_text("Done: you accepted the charter in force.")).to_be_visible()
    page.get_by_role("link", name="Edit my profile").click()
    page.get_by_label("Job title").fill("Safety engineer")
    page.get_by_label("Expertise (separated by commas)").fill("confined spaces, orbital welding")
    page.get_by_role("button", name="Save my profile").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Dora Keller")
    expect(page.get_by_text("Before you post, read and accept")).to_have_count(0)


def test_sign_in_with_a_wrong_password_says_so(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("User name or e-mail").fill("manon")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    expect(page.get_by_label("User name or e-mail")).to_have_value("manon")
    expect(page.get_by_label("User name or e-mail")).to_have_attribute("aria-invalid", "true")


def test_closed_community_request_and_approval(browser: Browser, instance: Instance) -> None:
    manager = new_context(browser, instance).new_page()
    sign_in(manager, "manon")
    create_community(manager, "export-control", "Export control", visibility="closed")
    expect(manager.get_by_text("Closed (approval needed)")).to_be_visible()

    member = new_context(browser, instance).new_page()
    sign_in(member, "bruno")
    member.goto("/communities?kind=practice")
    member.get_by_role("link", name="Export control").click()
    expect(member.get_by_text("Only members can read this community's posts.")).to_be_visible()
    member.get_by_role("button", name="Ask to join").click()
    expect(member.get_by_text("waiting for a manager's approval")).to_be_visible()

    manager.goto("/notifications")
    expect(manager.get_by_text("Bruno asks to join Export control")).to_be_visible()
    manager.get_by_role("link", name="See the requests").click()
    manager.get_by_role("button", name="Approve Bruno").click()
    expect(manager.get_by_role("status")).to_have_text("Request approved.")
    expect(manager.get_by_role("row", name=re.compile("^bruno @bruno"))).to_contain_text("Member")

    member.reload()
    expect(member.get_by_role("heading", name="Posts")).to_be_visible()
    expect(member.locator(".community-head")).to_contain_text("Member")
    member.context.close()
    manager.context.close()


def test_post_with_an_image_into_two_communities_then_comment_and_react(
    browser: Browser, instance: Instance
) -> None:
    page = new_context(browser, instance).new_page()
    sign_in(page, "chloe")
    accept_charter(page)
    create_community(page, "site-lyon", "Site Lyon")
    create_community(page, "maintenance", "Maintenance")
    page.goto("/compose")
    page.get_by_label("Title (optional)").fill("New crane on site")
    page.get_by_label(re.compile("^Message")).fill("The crane is **installed**. #lifting")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview strong")).to_have_text("installed")
    page.get_by_label("Site Lyon").check()
    page.get_by_label("Maintenance").check()
    page.get_by_text("Attach photos, videos or documents").click()
    page.get_by_label("Files (up to 4)").set_input_files(
        files=[{"name": "crane.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.get_by_label("Description of the images").fill("The yellow crane beside hall B")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/posts/\d+$"))
    post = page.locator("article.post").first
    expect(post.get_by_role("heading", name="New crane on site")).to_be_visible()
    expect(post.get_by_role("img", name="The yellow crane beside hall B")).to_be_visible()
    expect(post.locator(".shared-in")).to_contain_text("Site Lyon")
    expect(post.locator(".shared-in")).to_contain_text("Maintenance")
    thread_url = page.url

    like = post.get_by_role("button", name=re.compile("^Like"))
    like.click()
    expect(post.get_by_role("button", name="Like (1)")).to_have_attribute("aria-pressed", "true")
    assert page.url == thread_url  # htmx swapped the reactions in place

    page.get_by_label("Your comment (Markdown)").fill("Inspection is on Monday.")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".comment")).to_contain_text("Inspection is on Monday.")
    page.locator(".comment summary").first.click()
    page.get_by_label("Your reply to Chloe").fill("I will be there.")
    page.get_by_role("button", name="Reply", exact=True).first.click()
    expect(page.locator(".comment.depth-1")).to_contain_text("I will be there.")
    expect(page.get_by_role("heading", name="2 comments")).to_be_visible()

    for slug in ("site-lyon", "maintenance"):
        page.goto(f"/c/{slug}")
        expect(page.get_by_role("link", name="New crane on site")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("img", name="The yellow crane beside hall B")).to_be_visible()
    page.context.close()


def test_find_a_person_by_expertise(browser: Browser, instance: Instance) -> None:
    page = new_context(browser, instance).new_page()
    sign_in(page, "bruno")
    page.goto("/settings")
    page.get_by_label("Full name").fill("Bruno Weld")
    page.get_by_label("Job title").fill("Welding engineer")
    page.get_by_label("Expertise (separated by commas)").fill("Orbital welding, metallurgy")
    page.get_by_role("button", name="Save my profile").click()
    page.context.close()

    page = new_context(browser, instance).new_page()
    sign_in(page, "manon")
    page.goto("/people")
    page.get_by_label("Who knows about…").fill("metallurgy")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("list", name="People found")
    expect(results).to_contain_text("Bruno Weld")
    expect(results).to_contain_text("Welding engineer")
    results.get_by_role("link", name="Bruno Weld").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bruno Weld")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    page.context.close()


def test_a_charter_refusal_is_shown_with_its_article(page: Page) -> None:
    sign_in(page, "manon")
    accept_charter(page)
    page.goto("/compose")
    page.get_by_label(re.compile("^Message")).fill("Refund to card 4111 1111 1111 1111 please")
    page.get_by_label("On my profile").check()
    page.get_by_role("button", name="Publish").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"Refused under article 4\.1 of charter group [\d.]+: § 4\.1"))
    expect(alert.get_by_role("link", name="Read the usage charter")).to_be_visible()
    expect(page.get_by_label(re.compile("^Message"))).to_have_value(
        "Refund to card 4111 1111 1111 1111 please"
    )


def test_the_interface_speaks_french_and_german(browser: Browser, instance: Instance) -> None:
    for locale, sign_in_label in (("fr-FR", "Se connecter"), ("de-DE", "Anmelden")):
        context = new_context(browser, instance, locale=locale)
        page = context.new_page()
        page.goto("/login")
        expect(page.get_by_role("heading", level=1)).to_have_text(sign_in_label)
        expect(page.locator("html")).to_have_attribute("lang", locale[:2])
        context.close()


MAIN_PAGES = [
    ("home", "/"),
    ("communities", "/communities"),
    ("community", "/c/handbook"),
    ("community-about", "/c/handbook/about"),
    ("community-members", "/c/handbook/members"),
    ("compose", "/compose"),
    ("people", "/people?q=welding"),
    ("profile", "/people/bruno"),
    ("notifications", "/notifications"),
    ("settings", "/settings"),
    ("email-settings", "/settings/email"),
    ("dashboard", "/c/handbook/dashboard"),
    ("charter", "/charter"),
]


def test_main_pages_pass_the_accessibility_check_on_desktop_and_phone(
    browser: Browser, instance: Instance
) -> None:
    author = new_context(browser, instance).new_page()
    sign_in(author, "chloe")
    accept_charter(author)
    create_community(author, "handbook", "Field handbook")
    author.goto("/compose?community=handbook")
    author.get_by_label("Title (optional)").fill("Lockout procedure, revised")
    author.get_by_label(re.compile("^Message")).fill(
        "1. Stop\n2. **Isolate**\n3. Verify\n\nQuestions welcome."
    )
    author.get_by_text("Attach photos, videos or documents").click()
    author.get_by_label("Files (up to 4)").set_input_files(
        files=[{"name": "panel.png", "mimeType": "image/png", "buffer": png(320, 200)}]
    )
    author.get_by_label("Description of the images").fill("The isolation panel of line 3")
    author.get_by_role("button", name="Publish").click()
    author.get_by_label("Your comment (Markdown)").fill("Thanks, printed for the workshop.")
    author.get_by_role("button", name="Comment", exact=True).click()
    author.context.close()
    for viewport in (None, PHONE):
        context = new_context(browser, instance, **({"viewport": viewport} if viewport else {}))
        page = context.new_page()
        page.goto("/login")
        assert accessibility_problems(page) == []
        screenshot(page, "login")
        sign_in(page, "chloe")
        for name, path in MAIN_PAGES:
            page.goto(path)
            assert page.locator("main").count() == 1, path
            assert accessibility_problems(page) == [], path
            screenshot(page, name)
        page.goto("/c/handbook")
        page.get_by_role("link", name="Lockout procedure, revised").first.click()
        assert accessibility_problems(page) == []
        screenshot(page, "thread")
        context.close()


def test_keyboard_reaches_the_skip_link_and_focus_is_visible(page: Page) -> None:
    sign_in(page, "manon")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    outline = focused.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none")
    assert focused.bounding_box() is not None
