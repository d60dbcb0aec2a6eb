"""Returns what a handler can see: its context, environment, working directory and sys.path."""

import os
import sys
import time

import shared_greeting


def handler(event, context):
    first_remaining_ms = context.get_remaining_time_in_millis()
    time.sleep(event.get("sleep_s", 0))
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "first_remaining_ms": first_remaining_ms,
        "second_remaining_ms": context.get_remaining_time_in_millis(),
        "environment": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "greeting": shared_greeting.greet("Ames"),
    }
