"""What the learners' notebooks import.

The chapters (see the course map) will import their helpers from here: checks that run a learner's
function against the emulator and explain what went wrong, hints, and quiz widgets. Nothing is here yet:
this package is a placeholder until the first chapter lands.
"""
