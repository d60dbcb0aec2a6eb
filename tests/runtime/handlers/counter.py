"""Counts its calls in a module global, to show that a warm worker keeps module state."""

import os

print("counter module imported")
calls = 0


def handler(event, context):
    global calls
    calls += 1
    print(f"call {calls} with event {event}")
    return {"calls": calls, "pid": os.getpid()}
