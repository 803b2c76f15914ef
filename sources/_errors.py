"""The project's errors: each becomes one line (naming what to fix, never a secret) and an exit code."""
from __future__ import annotations


class CrmEltError(Exception):
    """Base of every error the CLI turns into a one-line message and an exit code."""

    exit_code = 1


class ConfigError(CrmEltError):
    """Wrong or missing configuration: credentials, domain, dates. Retrying cannot help."""

    exit_code = 2


class BudgetExhausted(CrmEltError):
    """The API's daily budget is used up; the next run (tomorrow) continues."""

    exit_code = 4


def one_line(what: str, endpoint: str | None, todo: str | None) -> str:
    """An endpoint's failure as users read it (after ``<source>.<table>: ``):
    ``<what happened> (<endpoint>): <what to do>``."""
    return what + (f" ({endpoint})" if endpoint else "") + (f": {todo}" if todo else "")


class CapReached(CrmEltError):
    """The run reached its own token cap (``max_tokens_per_run`` / ``max_tokens_per_day``): a planned stop.
    What was read is loaded, queues and finished cursors are kept, and the next run continues."""

    exit_code = 0


class ApiError(CrmEltError):
    """The API failed after bounded retries, or answered something unusable. ``whole_run``: the failure is
    not one endpoint's (the host was never reached): every other table would fail the same way."""

    exit_code = 1

    def __init__(self, what: str, endpoint: str | None = None, todo: str | None = None, whole_run: bool = False):
        super().__init__(one_line(what, endpoint, todo))
        self.what, self.endpoint, self.todo, self.whole_run = what, endpoint, todo, whole_run


class AccessDenied(ConfigError):
    """403 on one endpoint: the token's user lacks that permission; the other tables still load."""

    def __init__(self, what: str, endpoint: str | None = None, todo: str | None = None):
        super().__init__(one_line(what, endpoint, todo))
        self.what, self.endpoint, self.todo = what, endpoint, todo


class Interrupted(CrmEltError):
    """Stopped on request (SIGINT: 130, SIGTERM: 143); what was read is loaded, the next run continues."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class Checkpoint(CrmEltError):
    """Not an error: a long run's segment ends here; the runner loads it and runs the rest."""

    exit_code = 0
