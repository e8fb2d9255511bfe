"""The partner stage: private, entitled feeds per partner newsroom and a ninjs 3.1 API.

Partners are given what their contract entitles them to (editions, sources, topics, rights),
read from the store on request: nothing of theirs is ever written to the public output.

    entitle.py   what a partner may receive: editions, the stories' scopes, rights
    keys.py      who is asking: the token from the query or the header, checked in constant
                 time against SHA-256 digests
    limits.py    each partner's request rate (`rate: 120/min`)
    feeds.py     private RSS/Atom/JSON Feed, rendered from the store, cached
    ninjs.py     a story version as a ninjs 3.1 item
    api.py       the catch-up API: versions after a cursor, cached
    activity.py  who pulls what: counters, the store's record of it, the access log
    app.py       the HTTP side: routes, refusals, conditional GET, gzip (an ASGI app)
"""

from syndication.partners.app import PartnerApp

__all__ = ["PartnerApp"]
