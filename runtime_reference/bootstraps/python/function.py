"""Example function for the reference Python runtime: handler "function.handler".

It echoes its event back, and prints a line so that something shows up in the log.
"""


def handler(event, context):
    print(f"request {context.aws_request_id}: {context.get_remaining_time_in_millis()} ms left")
    return event
