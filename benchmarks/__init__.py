"""Benchmarks: the app measured beside the guide's examples, served the same way."""
