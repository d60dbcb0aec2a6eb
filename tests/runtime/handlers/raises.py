"""Raises from a nested call, so that the stack trace has two frames of this file."""


def check_price(price):
    if price <= 0:
        raise ValueError(f"price {price} must be positive")
    return price


def handler(event, context):
    return {"price": check_price(event["price"])}
