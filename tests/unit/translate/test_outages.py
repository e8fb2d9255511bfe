"""Provider outages the store remembers: capped when read back, shown, and forgotten on the
operator's word (`retry --failed`)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from syndication.config import ProviderSettings
from syndication.model import utcnow
from syndication.store import Store
from syndication.translate import outages
from syndication.translate.guard import MAX_RETRY_AFTER, Guarded
from syndication.translate.providers import PROVIDERS


def test_an_outage_recorded_for_days_is_read_back_capped_and_forgotten_on_request(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    far = utcnow() + timedelta(days=11)  # as an older version recorded a Retry-After 999999
    store.set_setting(
        outages.KEY.format("google"),
        json.dumps({"failures": 1, "error": "rate limited (HTTP 429)", "until": far.isoformat()}),
    )
    guard = Guarded(PROVIDERS["google"](ProviderSettings(base_url="http://127.0.0.1:9/m")))
    outages.restore(store, {"google": guard})
    assert 0 < guard.open_until - time.monotonic() <= MAX_RETRY_AFTER
    (shown,) = outages.recorded(store, ["google", "openai"])
    assert shown["provider"] == "google" and shown["error"] == "rate limited (HTTP 429)"
    until = datetime.fromisoformat(shown["until"])
    assert until <= utcnow() + timedelta(seconds=MAX_RETRY_AFTER)
    assert outages.forget(store, ["google", "openai"]) == [shown]
    assert outages.recorded(store, ["google"]) == []
    fresh = Guarded(PROVIDERS["google"](ProviderSettings(base_url="http://127.0.0.1:9/m")))
    outages.restore(store, {"google": fresh})
    assert not fresh.is_open
