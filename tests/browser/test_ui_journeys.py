"""Journeys through the newer pages in headless Chromium against a real `cercle run`: mention
autocompletion with the keyboard, email preferences, the adoption dashboards with their charts, and the
cross-border consent step of the walk-through on an instance whose charter (`cn`) asks for it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator

import pytest
import tomli_w

from tests.browser.conftest import (
    PHONE,
    Instance,
    accept_charter,
    accessibility_problems,
    new_context,
    run_cercle,
    screenshot,
    serving,
    sign_in,
    skip_without_a_browser,
)
from tests.pg import free_port

skip_without_a_browser()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

PEERS = [
    {"domain": "munich.example.com", "jurisdiction": "DE"},
    {"domain": "paris.example.com", "jurisdiction": "FR"},
]


@pytest.fixture(scope="module")
def cn_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """An instance under the Chinese charter (separate consent before data leaves), with two peers abroad."""
    directory = tmp_path_factory.mktemp("browser-cn")
    port = free_port()
    run_cercle(
        directory, "init", "--domain", f"127.0.0.1:{port}", "--registration", "open", "--charter", "cn"
    )
    config = directory / "cercle.toml"
    values = tomllib.loads(config.read_text())
    values["peers"] = PEERS
    config.write_text(tomli_w.dumps(values))
    with serving(directory, port) as running:
        yield running


@pytest.fixture(scope="module")
def admin(instance: Instance) -> str:
    instance.cercle(
        "user",
        "create",
        "root",
        "--email",
        "root@corp.example",
        "--password",
        "correct horse battery",
        "--admin",
    )
    return "root"


def create_community(page: Page, slug: str, name: str) -> None:
    page.goto("/communities/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address (letters, digits and -)").fill(slug)
    page.get_by_label("Kind").select_option("practice")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"**/c/{slug}")


def test_mention_autocompletion_with_the_keyboard(browser: Browser, instance: Instance) -> None:
    instance.cercle(
        "user",
        "create",
        "brigitte",
        "--email",
        "brigitte@corp.example",
        "--display-name",
        "Brigitte Roux",
        "--password",
        "correct horse battery",
    )
    page = new_context(browser, instance).new_page()
    sign_in(page, "manon")
    accept_charter(page)
    page.goto("/compose")
    body = page.get_by_role("combobox", name=re.compile("^Message"))
    expect(body).to_have_attribute("aria-expanded", "false")
    body.press_sequentially("Thanks @br")
    listbox = page.get_by_role("listbox", name="People to mention")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("Brigitte Roux")
    expect(options.nth(0)).to_contain_text("@brigitte")
    expect(body).to_have_attribute("aria-expanded", "true")
    expect(body).to_have_attribute("aria-activedescendant", options.nth(0).get_attribute("id") or "")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", options.nth(1).get_attribute("id") or "")
    page.keyboard.press("ArrowDown")  # wraps round to the first
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowUp")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    assert accessibility_problems(page) == []
    screenshot(page, "mention")
    page.keyboard.press("Enter")
    expect(listbox).to_be_hidden()
    expect(body).to_have_value("Thanks @bruno ")
    expect(body).to_have_attribute("aria-expanded", "false")

    body.press_sequentially("and @ch")
    expect(listbox.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(body).to_have_value("Thanks @bruno and @ch")
    body.press_sequentially("loe")
    expect(listbox.get_by_role("option")).to_have_text(re.compile("@chloe"))
    page.keyboard.press("Tab")
    expect(body).to_have_value("Thanks @bruno and @chloe ")
    body.press_sequentially("@nobody")
    expect(page.get_by_role("status").filter(has_text="Nobody found to mention.")).to_be_attached()
    expect(listbox).to_be_hidden()

    page.get_by_label("On my profile").check()
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/posts/\d+$"))
    post = page.locator("article.post").first
    expect(post.get_by_role("link", name="@bruno")).to_have_attribute("href", re.compile("/users/bruno$"))
    page.context.close()


def test_without_javascript_the_composer_is_a_plain_text_area(browser: Browser, instance: Instance) -> None:
    context = new_context(browser, instance, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "bruno")
    page.goto("/compose")
    body = page.get_by_label(re.compile("^Message"))
    expect(body).not_to_have_attribute("role", "combobox")
    body.fill("Hello @manon")
    expect(page.get_by_role("listbox")).to_have_count(0)
    context.close()


def test_email_preferences_are_saved(browser: Browser, instance: Instance) -> None:
    page = new_context(browser, instance).new_page()
    sign_in(page, "chloe")
    create_community(page, "night-shift", "Night shift")
    page.goto("/settings")
    page.get_by_role("link", name="Email preferences").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email preferences")
    expect(page.get_by_label("A daily digest")).to_be_checked()
    page.get_by_label("A weekly digest").check()
    page.get_by_label("When someone mentions me").uncheck()
    page.get_by_label("Mails from Night shift").select_option("each")
    expect(page.get_by_role("link", name=re.compile(r"^community\+night-shift@"))).to_be_visible()
    page.get_by_role("button", name="Save my email preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your email preferences are saved.")
    page.reload()
    expect(page.get_by_label("A weekly digest")).to_be_checked()
    expect(page.get_by_label("When someone mentions me")).not_to_be_checked()
    expect(page.get_by_label("When someone replies to me")).to_be_checked()
    expect(page.get_by_label("Mails from Night shift")).to_have_value("each")
    page.context.close()


def test_the_dashboards_show_their_charts(browser: Browser, instance: Instance, admin: str) -> None:
    page = new_context(browser, instance).new_page()
    sign_in(page, "manon")
    accept_charter(page)
    create_community(page, "line-3", "Line 3")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/c/line-3/dashboard")
    expect(page.get_by_role("heading", name="Figures")).to_be_visible()
    expect(page.locator(".figure").filter(has_text="Members").first).to_contain_text("fewer than 5 people")
    charts = page.locator(".charts svg[role=img]")
    expect(charts).to_have_count(5)
    expect(page.get_by_role("img", name="Posts per week")).to_be_visible()
    expect(page.get_by_role("link", name="Download the figures (CSV)")).to_have_attribute(
        "href", "/api/v1/communities/line-3/analytics?format=csv&weeks=12"
    )
    page.get_by_label("Period").select_option("4")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/c/line-3/dashboard?weeks=4")
    page.get_by_text("The same figures as a table").click()
    expect(page.locator("details table tbody tr")).to_have_count(4)
    page.context.close()

    page = new_context(browser, instance).new_page()
    sign_in(page, admin)
    page.goto("/admin")
    page.get_by_role("link", name="Adoption dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Adoption of this instance")
    expect(page.locator(".charts svg[role=img]")).to_have_count(5)
    page.context.close()


def test_new_pages_pass_the_accessibility_check(browser: Browser, instance: Instance, admin: str) -> None:
    for viewport in (None, PHONE):
        context = new_context(browser, instance, **({"viewport": viewport} if viewport else {}))
        page = context.new_page()
        sign_in(page, admin)
        accept_charter(page)
        for name, path in (
            ("admin-dashboard", "/admin/dashboard"),
            ("cross-border-settings", "/settings/cross-border"),
        ):
            page.goto(path)
            assert accessibility_problems(page) == [], path
            screenshot(page, name)
        context.close()


def test_onboarding_asks_the_cross_border_consent_after_the_charter(
    browser: Browser, cn_instance: Instance
) -> None:
    page = new_context(browser, cn_instance).new_page()
    page.goto("/signup")
    page.get_by_label("User name").fill("li")
    page.get_by_label("Full name").fill("Li Wei")
    page.get_by_label("Work e-mail").fill("li@corp.example")
    page.get_by_label("Password (10 characters or more)").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/welcome")
    steps = page.locator("ol.steps > li h2")
    expect(steps.nth(1)).to_have_text("Decide whether your data may be sent abroad")
    page.get_by_role("link", name="Read the charter").click()
    page.get_by_role("button", name="I have read and accept the charter").click()
    page.wait_for_url("**/welcome")
    page.get_by_role("link", name="Read and decide").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sending my data abroad")
    expect(
        page.get_by_role("heading", name=re.compile(r"§ 6\.1 Personal information leaving China"))
    ).to_be_visible()
    assert accessibility_problems(page) == []
    screenshot(page, "cross-border")
    page.get_by_role("button", name="Save my choice").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a choice per country is required
    germany = page.get_by_role("group", name="Germany: munich.example.com")
    germany.get_by_label("I do not consent: what I write stays on this instance").check()
    france = page.get_by_role("group", name="France: paris.example.com")
    france.get_by_label("I consent to my personal information being sent there").check()
    page.get_by_role("button", name="Save my choice").click()
    page.wait_for_url("**/welcome")
    expect(page.get_by_text("Done: your choice is recorded.")).to_be_visible()

    page.goto("/compose")  # refusing is no dead end
    page.get_by_label(re.compile("^Message")).fill("Hello from Shanghai")
    page.get_by_label("On my profile").check()
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/posts/\d+$"))

    page.goto("/settings")
    page.get_by_role("link", name="Sending my data abroad").click()
    germany = page.get_by_role("group", name="Germany: munich.example.com")
    expect(germany.get_by_label("I do not consent: what I write stays on this instance")).to_be_checked()
    germany.get_by_label("I consent to my personal information being sent there").check()
    page.get_by_role("button", name="Save my choice").click()
    expect(page.get_by_role("status")).to_have_text("Your choice is saved.")
    expect(
        page.get_by_role("group", name="Germany: munich.example.com").get_by_label(
            "I consent to my personal information being sent there"
        )
    ).to_be_checked()
    page.context.close()


def test_the_consent_step_reads_in_french(browser: Browser, cn_instance: Instance) -> None:
    context = new_context(browser, cn_instance, locale="fr-FR")
    page = context.new_page()
    page.goto("/signup")
    page.locator("#username").fill("marie")
    page.locator("#display_name").fill("Marie Dupont")
    page.locator("#email").fill("marie@corp.example")
    page.locator("#password").fill("correct horse battery")
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/welcome")
    page.goto("/welcome/cross-border")
    expect(page.get_by_role("heading", level=1)).to_have_text("Envoi de mes données à l'étranger")
    expect(page.get_by_role("group", name="Allemagne : munich.example.com")).to_be_visible()
    context.close()
