"""Errors that the CLI and servers report as a clear message rather than a traceback."""


class UserError(ValueError):
    """Bad input from a user or calling agent: a missing file, a malformed filter, an empty query."""


class ServiceUnavailable(RuntimeError):
    """A service (a Chroma server, an LLM endpoint) did not answer within its retries and timeouts."""
