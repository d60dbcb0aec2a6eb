"""Tests of template.yaml, its state machine, sample events and handler skeletons."""
