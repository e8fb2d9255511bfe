"""Publishing: rendering feeds (feeds), the site around them (site), atomic writes (files) and
the stage that turns the store into published editions (editions)."""
