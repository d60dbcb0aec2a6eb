"""Sleeps at import for SLOW_IMPORT_S seconds, so that its init phase is slow."""

import os
import time

print("slow import started")
time.sleep(float(os.environ["SLOW_IMPORT_S"]))


def handler(event, context):
    return {"remaining_ms": context.get_remaining_time_in_millis()}
