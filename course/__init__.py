"""What the course's notebooks import.

    import course
    emu = course.start(runtime_only=True)     # the chapter's emulator (one per kernel)
    course.quiz("02.1")                        # a self-check question
    course.hint("02.1")                        # the next hint for an exercise
    course.check("what is checked", passed, expected=..., actual=..., hint=...)
"""

from .checks import CheckFailed, check, check_equal, install_in_ipython
from .emulator import current, show_trace, start, stop
from .hints import hint


def quiz(question_id: str):  # noqa: ANN201 - returns an ipywidgets widget; imported lazily
    """Show a self-check question as a widget: ``course.quiz("02.1")``."""
    from .quiz_widget import quiz as make

    return make(question_id)


install_in_ipython()

__all__ = ["CheckFailed", "check", "check_equal", "current", "hint", "quiz", "show_trace", "start", "stop"]
