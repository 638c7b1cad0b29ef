"""A moderation journey in headless Chromium against a real `cercle run`: a member reports a post, the
animator finds it in the community's moderation queue and removes it."""

from __future__ import annotations

import re

from tests.browser.conftest import Instance, accept_charter, new_context, sign_in, skip_without_a_browser

skip_without_a_browser()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


def _join(page: Page, slug: str) -> None:
    page.goto(f"/c/{slug}")
    page.get_by_role("button", name="Join").click()
    expect(page.locator(".community-head")).to_contain_text("Member")


def test_a_member_reports_a_post_and_the_animator_removes_it(browser: Browser, instance: Instance) -> None:
    animator = new_context(browser, instance).new_page()
    sign_in(animator, "manon")
    accept_charter(animator)
    animator.goto("/communities/new")
    animator.get_by_label("Name", exact=True).fill("Quality")
    animator.get_by_label("Address (letters, digits and -)").fill("quality")
    animator.get_by_label("Kind").select_option("practice")
    animator.get_by_role("button", name="Create").click()
    animator.wait_for_url("**/c/quality")

    author = new_context(browser, instance).new_page()
    sign_in(author, "bruno")
    accept_charter(author)
    _join(author, "quality")
    author.goto("/compose?community=quality")
    author.get_by_label(re.compile("^Message")).fill("Cheap watches for sale, ask me")
    author.get_by_role("button", name="Publish").click()
    author.wait_for_url(re.compile(r"/posts/\d+$"))
    thread_url = author.url

    reporter = new_context(browser, instance).new_page()
    sign_in(reporter, "chloe")
    accept_charter(reporter)
    _join(reporter, "quality")
    reporter.goto(thread_url)
    reporter.locator("article.post").first.get_by_role("link", name="Report").click()
    expect(reporter.get_by_role("heading", name="Report to the moderators")).to_be_visible()
    reporter.get_by_label("Spam").check()
    reporter.get_by_label("Anything the moderators should know (optional)").fill("Ads in a work community")
    reporter.get_by_role("button", name="Send the report").click()
    expect(reporter.get_by_role("status")).to_contain_text("moderators will look at this report")

    animator.goto("/notifications")
    expect(animator.get_by_text("Chloe reported a post in Quality")).to_be_visible()
    animator.goto("/c/quality")
    animator.get_by_role("link", name="Moderation").click()
    animator.wait_for_url("**/c/quality/moderation")
    report = animator.locator(".report").first
    expect(report).to_contain_text("Spam")
    expect(report).to_contain_text("Ads in a work community")
    expect(report).to_contain_text("Cheap watches for sale")
    report.get_by_role("button", name="Remove the post").click()
    expect(animator.get_by_role("status")).to_have_text("Post removed.")
    expect(animator.get_by_text("No open reports.")).to_be_visible()

    reporter.goto(thread_url)
    expect(reporter.get_by_text("This post was deleted.")).to_be_visible()
    for page in (animator, author, reporter):
        page.context.close()
