"""Imports a module that does not exist, so its init fails."""

import module_that_does_not_exist  # noqa: F401


def handler(event, context):
    return {}
