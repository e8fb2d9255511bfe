"""Every error this service raises on purpose, under one root: :class:`SyndicationError`.

Owns: the public exception types and what each carries (the source id, the file and line, the
article id, the provider) so that a message always names what it concerns, and a front end can
catch the root to tell a known failure from a bug. Stages raise these; they define none.
"""

from __future__ import annotations


class SyndicationError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(SyndicationError):
    """The configuration is invalid; `problems` lists every mistake as `file:line: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class SourceError(SyndicationError):
    """A source could not be fetched or parsed; names the source."""

    def __init__(self, source_id: str, message: str, *, retry_after: float | None = None):
        super().__init__(f"{source_id}: {message}")
        self.source_id = source_id
        self.message = message
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from the real constructor arguments (the default would pass only the joined
        # text): a parse in a worker process raises it back across the process boundary.
        return (type(self), (self.source_id, self.message), dict(self.__dict__))


class ArticleFileError(SyndicationError):
    """A local article file is unreadable; names the file and, where known, the line."""

    def __init__(self, path: str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # As SourceError: pickle with the constructor's own arguments.
        return (type(self), (self.path, self.message, self.line), dict(self.__dict__))


class TranslationError(SyndicationError):
    """A translation attempt failed; `transient` says whether retrying later may help.

    `provider` names who failed and `article_id` which story was being translated (empty when
    the failure concerns no one story, e.g. a provider that cannot be reached at all).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        transient: bool = True,
        retry_after: float | None = None,
        article_id: str = "",
    ):
        super().__init__(message)
        self.provider = provider
        self.transient = transient
        self.retry_after = retry_after
        self.article_id = article_id

    def __reduce__(self) -> tuple[object, ...]:
        # As SourceError: the keyword-only fields travel in the state, set after __init__.
        return (type(self), (str(self.args[0]) if self.args else "",), dict(self.__dict__))


class StoreError(SyndicationError):
    """The store is unreachable or unusable (fatal for a cycle); `store` names it where the
    error concerns the database itself (the SQLite file, or the URL with its password masked)."""

    def __init__(self, message: str, *, store: str = ""):
        super().__init__(message)
        self.store = store


class StoreUnreachable(StoreError):
    """The database does not answer (a connection refused, dropped or timed out): a worker
    waits and tries again."""


class StoreLocked(SyndicationError):
    """Another worker holds the store."""


class OpmlError(SyndicationError):
    """The OPML file is unreadable, not well-formed, hostile or not OPML; `file:line: why`."""


class ImportProblem(SyndicationError):
    """A sources import cannot be done as asked; the message says why, the YAML is untouched."""


class OutputError(SyndicationError, OSError):
    """The output cannot be written (an object store refusing or unreachable); names the
    output and, where there is one, the file. An OSError too: publishing treats it as any
    file that cannot be written (the others still go, the publish is retried)."""
