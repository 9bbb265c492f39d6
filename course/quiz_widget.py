"""The quiz in JupyterLab: radio buttons, a Check button, instant feedback; usable with the keyboard alone
(Tab to the choices, arrow keys to pick, Tab to Check, Enter or Space to press it)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from .quizzes import Attempt, Question, get_question

# Long choices wrap instead of running off the cell (ipywidgets keeps radio labels on one line).
WRAP_CHOICES = ("<style>.course-quiz .widget-radio-box label {display: flex; flex-direction: row-reverse; "
                "justify-content: flex-end; align-items: baseline; "
                "white-space: normal; height: auto; line-height: 1.4; padding: 2px 0} "
                ".course-quiz .widget-radio-box label input {flex: none; margin-right: 6px}</style>")


class QuizWidget:
    """One question as a widget; ``widget`` is what the notebook displays."""

    def __init__(self, question: Question):
        self.attempt = Attempt(question)
        self.choices = widgets.RadioButtons(
            options=[(f"{letter}) {text}", letter) for letter, text in question.choices.items()],
            value=None, layout=widgets.Layout(width="auto"),
            description="", style={"description_width": "0px"})
        self.button = widgets.Button(description="Check", button_style="primary", tooltip="Check your answer")
        self.feedback = widgets.HTML(value="")
        self.button.on_click(lambda _: self.check())
        title = widgets.HTML(value=WRAP_CHOICES + f"<b>Quiz {html.escape(question.id)}.</b> "
                                         f"{html.escape(question.text)}")
        self.widget = widgets.VBox([title, self.choices, self.button, self.feedback],
                                   layout=widgets.Layout(border="1px solid #ccc", padding="8px"))
        self.widget.add_class("course-quiz")

    def check(self) -> None:
        result = self.attempt.submit(self.choices.value)
        color = "#1a7f37" if result.right else "#cf222e"
        text = f"<span style='color:{color}; font-weight:bold'>{html.escape(result.message)}</span>"
        if result.explanation:
            text += f"<div class='course-quiz-explanation'>{html.escape(result.explanation)}</div>"
        self.feedback.value = text


def quiz(question_id: str) -> widgets.VBox:
    """Show a self-check question: ``quiz("02.1")``."""
    return QuizWidget(get_question(question_id)).widget
