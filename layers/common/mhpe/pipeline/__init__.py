"""The training pipeline's steps: ingest, validate, train, evaluate and promote.

Each module holds one step's logic, so that a handler in functions/ only parses its event,
calls one function here and returns the result.
"""
