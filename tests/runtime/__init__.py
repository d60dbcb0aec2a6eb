"""Tests of the function runtime of the embedded local cloud."""
