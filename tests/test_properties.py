"""Property tests of the input rules: UTM normalisation, URL validation, CSV parsing."""
from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.errors import ValidationError
from tracker.links.service import parse_csv
from tracker.links.urls import merge_query, normalise_tag, validate_url


@given(st.text(max_size=60))
def test_normalised_tags_are_canonical(value):
    tag = normalise_tag(value)
    assert tag == tag.strip() and tag == tag.lower()
    assert not any(ch.isspace() for ch in tag)
    assert normalise_tag(tag) == tag  # idempotent


@given(st.text(max_size=200))
def test_validate_url_accepts_only_absolute_http(value):
    try:
        url = validate_url(value, "destination")
    except ValidationError as exc:
        assert exc.field == "destination"
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert parts.username is None and parts.password is None
    assert not any(ch.isspace() for ch in url)


@given(st.sampled_from(["http", "https"]), st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(com|no|org)", fullmatch=True),
       st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=10), max_size=4))
def test_merge_query_keeps_existing_parameters(scheme, host, params):
    url = validate_url(f"{scheme}://{host}/p?keep=1", "destination")
    merged = merge_query(url, {"utm_source": "x", **{f"e_{k}": v for k, v in params.items()}})
    assert "keep=1" in merged and "utm_source=x" in merged
    assert urlsplit(merged).netloc == host


@settings(max_examples=50)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
                         min_size=3, max_size=3), min_size=1, max_size=8))
def test_csv_parsing_round_trips_rows_and_line_numbers(rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["destination", "utm_source", "label"])
    writer.writerows(rows)
    parsed = list(parse_csv(buf.getvalue()))
    expected = [{k: v.strip() for k, v in zip(["destination", "utm_source", "label"], row, strict=False) if v.strip()}
                for row in rows]
    # rows whose cells are all empty are skipped
    assert [r for _, r in parsed] == [e for e in expected if e]
    lines = [line for line, _ in parsed]
    assert lines == sorted(lines) and all(line >= 2 for line in lines)
