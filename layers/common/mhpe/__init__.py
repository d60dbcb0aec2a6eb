"""M-HPE shared code, shipped to the functions as a Lambda layer."""
