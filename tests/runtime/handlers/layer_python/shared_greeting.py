"""A module that only a layer provides."""


def greet(name):
    return f"hello from the layer, {name}"
