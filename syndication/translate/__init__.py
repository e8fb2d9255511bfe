"""Translation: `engine` drains pending translations in phases (plan → translate → save);
`chain` answers units through the provider chain (`memory` first, packed requests, refused
requests halved, each answer checked by `checks`); `guard` wraps each provider (timeout,
retries, rate limit, breaker); `providers` are the services; `segment` cuts HTML into units
and puts answers back."""
