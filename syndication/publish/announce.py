"""Announce: tell the WebSub hub which feeds changed.

Owns: the WebSub publish ping (`site.hub`) with the URLs of the feeds this publish wrote,
and the topics a failed ping still owes, kept in the store and sent with the next one, so a
subscriber misses no change. A hub outage never fails a publish.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from syndication import http
from syndication.config import Config
from syndication.store import Store

log = logging.getLogger(__name__)

Ping = Callable[[str, list[str]], None]


def announce(
    config: Config, store: Store, written: Sequence[str], *, ping: Ping | None = None
) -> str:
    """Ping the hub with the feeds among `written` and the topics owed; the error, or ""."""
    hub, base = config.settings.site.hub, config.settings.site.base_url
    if not hub:
        return ""
    feeds_changed = [f"{base}{path}" for path in written if path.endswith((".xml", ".json"))]
    # Topics a failed ping left behind go with this one, so subscribers miss no change.
    owed = json.loads(store.setting("websub_owed") or "[]")
    topics = list(dict.fromkeys([*owed, *feeds_changed]))
    if not topics:
        return ""
    try:
        agent = config.settings.fetch.user_agent
        (ping or (lambda hub, urls: websub_ping(hub, urls, user_agent=agent)))(hub, topics)
        store.set_setting("websub_owed", "[]")
    except Exception as exc:  # a hub outage never fails a publish
        error = f"WebSub hub {hub}: {exc} (will ping again next time)"
        log.warning("%s", error)
        store.set_setting("websub_owed", json.dumps(topics))
        return error
    return ""


def websub_ping(hub: str, urls: list[str], *, user_agent: str = http.USER_AGENT) -> None:
    """Tell the hub these topics changed (WebSub publish ping; hubs accept `hub.url` lists),
    as the operator's `fetch.user_agent`: the one name our requests go out under."""
    data = {"hub.mode": "publish", "hub.url": urls}  # a list value repeats the field
    headers = {"User-Agent": user_agent}
    response = http.post(hub, data=data, timeout=10.0, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"HTTP {response.status_code}")
