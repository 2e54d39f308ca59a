"""Deployment checks: build, run and smoke-test the Docker image."""
