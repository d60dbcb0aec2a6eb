"""The embedded local cloud and deployment helpers for M-HPE."""
