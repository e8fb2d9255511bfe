"""What the store remembers of an object-store output: each key's digest per output, failed
uploads until the next one succeeds, keys forgotten once deleted."""

from __future__ import annotations

from pathlib import Path

from syndication.store import Store

BUCKET, OTHER = "s3://feeds/site/ at http://127.0.0.1:8333", "s3://feeds/other/"


def test_each_output_keeps_its_own_digests_and_failures(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    store.record_upload(BUCKET, "kk/rss.xml", "aa", 10)
    store.record_upload(BUCKET, "kk/articles/x.html", "bb", 20)
    store.record_upload(OTHER, "kk/rss.xml", "cc", 30)
    assert store.uploaded(BUCKET) == {"kk/rss.xml": "aa", "kk/articles/x.html": "bb"}
    assert store.uploaded(OTHER) == {"kk/rss.xml": "cc"}
    assert store.uploaded("s3://never/") == {} and store.failed_uploads() == []

    # A failed upload of newer bytes keeps what the key still holds; a key never uploaded
    # is known with no digest (so it is tried, and deleted if no longer published).
    store.record_upload_failure(BUCKET, "kk/rss.xml", "s3://feeds/site/kk/rss.xml: refused")
    store.record_upload_failure(BUCKET, "kk/articles/y.html", "s3://feeds/site/…: refused")
    assert store.uploaded(BUCKET) == {
        "kk/rss.xml": "aa",
        "kk/articles/x.html": "bb",
        "kk/articles/y.html": "",
    }
    failed = store.failed_uploads()
    assert [(f.target, f.path) for f in failed] == [
        (BUCKET, "kk/articles/y.html"),
        (BUCKET, "kk/rss.xml"),
    ]
    assert all(f.since is not None and "refused" in f.error for f in failed)

    # Uploaded at last: the failure is over.
    store.record_upload(BUCKET, "kk/rss.xml", "dd", 11)
    assert [f.path for f in store.failed_uploads()] == ["kk/articles/y.html"]
    assert store.uploaded(BUCKET)["kk/rss.xml"] == "dd"

    # Deleted from the bucket: forgotten, failure and all; the other output is untouched.
    store.forget_uploads(BUCKET, ["kk/articles/y.html", "kk/articles/x.html"])
    assert store.uploaded(BUCKET) == {"kk/rss.xml": "dd"}
    assert store.failed_uploads() == []
    assert store.uploaded(OTHER) == {"kk/rss.xml": "cc"}
