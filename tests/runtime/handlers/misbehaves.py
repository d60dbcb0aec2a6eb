"""Handlers that sleep, crash, exit, print a lot, log, or return what JSON cannot encode."""

import datetime
import logging
import os
import sys
import time
from pathlib import Path

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def sleep(event, context):
    if "pid_file" in event:
        Path(event["pid_file"]).write_text(str(os.getpid()))
    time.sleep(event["sleep_s"])
    return {"slept_s": event["sleep_s"], "pid": os.getpid()}


def exit_with_status(event, context):
    print("exiting now")
    sys.stdout.flush()
    os._exit(event["status"])


def raise_signal(event, context):
    os.kill(os.getpid(), event["signal"])
    time.sleep(5)


def print_a_lot(event, context):
    for index in range(event["lines"]):
        print(f"line {index:06d} " + "x" * 100)
    return {"printed": event["lines"]}


def log_and_print(event, context):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    logger.info("logged at info")
    return {"ok": True}


def allocate(event, context):
    blocks = [b"x" * (1024 * 1024) for _ in range(event["mb"])]
    time.sleep(event.get("hold_s", 0))
    return {"allocated_mb": len(blocks)}


def return_datetime(event, context):
    return {"when": datetime.datetime(2008, 6, 1)}


def record_attempt(event, context):
    """Append the request id and time of this attempt to a file, then fail if asked."""
    with open(event["attempts_file"], "a") as attempts:
        attempts.write(f"{context.aws_request_id} {time.time()}\n")
    if event.get("fail"):
        raise RuntimeError("attempt failed on purpose")
    return {"recorded": True}
