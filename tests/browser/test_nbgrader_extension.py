"""nbgrader's JupyterLab extension, in a real browser: for a learner, the Assignment List and the notebook's
Validate button; for an instructor (JupyterLab started in the course folder, grader/), the formgrader. No errors in
the browser console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTER = "00-welcome"


def test_learner_assignment_list_and_validate(learner_lab, page, console) -> None:
    lab.open_notebook(page, learner_lab, f"{CHAPTER}/{CHAPTER}.ipynb")
    validate = lab.notebook_panel(page).locator(".jp-Toolbar").get_by_role("button", name="Validate")
    expect(validate).to_be_visible()

    # Nbgrader > Assignment List: the learner's view of the course's exchange (empty here: nothing released)
    lab.menu_command(page, "Nbgrader", "nbgrader:open-assignment-list")
    for section, empty in [("Released assignments", "There are no assignments to fetch."),
                           ("Downloaded assignments", "There are no downloaded assignments."),
                           ("Submitted assignments", "There are no submitted assignments.")]:
        expect(page.get_by_text(section, exact=True)).to_be_visible()
        expect(page.get_by_text(empty, exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile("does not exist|Error fetching"))).to_have_count(0)
    lab.screenshot(page, "nbgrader-assignment-list")

    # Validate: nbgrader runs the notebook in a fresh kernel and reports; the blank exercises fail their checks
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{CHAPTER}.ipynb").click()
    validate.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.get_by_text("Validation Results")).to_be_visible(timeout=lab.RUN_MS)
    expect(dialog).to_contain_text("The following cell failed")
    expect(dialog).to_contain_text("NotImplementedError")
    lab.screenshot(page, "nbgrader-validate")
    dialog.locator(".jp-Dialog-footer button").last.click()
    expect(dialog).to_have_count(0)

    console.expect_no_errors()


def test_instructor_formgrader(instructor_lab, page, console) -> None:
    page.goto(instructor_lab.lab_url())
    lab.menu_command(page, "Nbgrader", "nbgrader:open-formgrader")
    formgrader = page.frame_locator("iframe[src*='formgrader']")
    expect(formgrader.get_by_role("heading", name="Manage Assignments")).to_be_visible(timeout=60_000)
    for chapter in sorted(p.name for p in (instructor_lab.root_dir / "source").iterdir() if p.is_dir()):
        expect(formgrader.locator("td", has_text=re.compile(rf"^\s*{re.escape(chapter)}\s*$"))).to_be_visible()
    expect(formgrader.get_by_text(re.compile("does not exist"))).to_have_count(0)
    lab.screenshot(page, "nbgrader-formgrader")

    console.expect_no_errors()
