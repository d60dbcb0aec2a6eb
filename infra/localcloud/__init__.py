"""The embedded local cloud: AWS APIs, function runtime, events and deployment on 127.0.0.1."""
