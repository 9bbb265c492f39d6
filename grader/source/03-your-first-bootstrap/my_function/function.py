"""A sample function for chapter 03: handler "function.handler".

It greets the event's "name" (World when there is none), echoes the event, prints a line to the log, and reports
what its context object says about the invocation.
"""


def handler(event, context):
    name = event.get("name", "World") if isinstance(event, dict) else "World"
    print(f"Greeting {name} in request {context.aws_request_id}")
    return {
        "greeting": f"Hello, {name}!",
        "echo": event,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
