"""The publish stage: changes → versions → pages → documents → site → write → record →
announce (see `stage`).

Owns nothing itself: `publish` and its `PublishReport` are imported from here.
"""

from syndication.publish.stage import PublishReport, publish

__all__ = ["PublishReport", "publish"]
