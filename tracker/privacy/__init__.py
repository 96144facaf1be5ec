"""Privacy: the keyed daily IP hash, cookieless mode, Do Not Track / Global Privacy Control, person
erasure and the retention of raw clicks (docs/guides/site-owner.md#privacy).

- :mod:`tracker.privacy.iphash`: the one place an IP address becomes a keyed hash (redirects,
  ``/collect``, the rate limiter) and where a cookieless visitor id is made.
- :mod:`tracker.privacy.consent`: whether a request asks not to be tracked (``DNT: 1``, ``Sec-GPC: 1``).
- :mod:`tracker.privacy.erasure`: ``DELETE /api/v1/people/<id>`` and ``tracker people erase``, and the
  tombstones that keep spooled lines from bringing an erased person back.
- :mod:`tracker.privacy.retention`: ``click_retention_days``, ``tracker retention purge``, the daily purge
  and the note reports carry when their window reaches before the retention cut-off.
"""
