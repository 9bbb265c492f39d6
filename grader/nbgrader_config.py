"""nbgrader's configuration for this course (the course directory is this folder, `grader/`)."""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "lambda-custom-runtimes-hands-on"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# What a learner sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A test cell that runs too long scores 0 instead of hanging the batch; a kernel that swallows the interrupt
# doesn't fail the whole submission (see shared/reference/nbgrader-findings.md).
c.Execute.timeout = 120
c.Execute.raise_on_iopub_timeout = False
# Files that are not released to learners.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
