"""Panel's Async and Concurrency guide as a multi-page, multi-user Panel app."""
