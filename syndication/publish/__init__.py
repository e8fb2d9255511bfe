"""The publish stage: select → items → render → write → announce (see `stage`).

Owns nothing itself: `publish` and its `PublishReport` are imported from here.
"""

from syndication.publish.stage import PublishReport, publish

__all__ = ["PublishReport", "publish"]
