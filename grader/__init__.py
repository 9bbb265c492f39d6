"""Instructor tooling: the nbgrader course (sources in grader/source/) and the command line that
releases and grades the chapters. A placeholder until the instructor CLI lands with a later issue.
"""
