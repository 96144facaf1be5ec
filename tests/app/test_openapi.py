"""The OpenAPI document is valid and covers every API route."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_openapi_document_validates_and_covers_routes(app, client, auth):
    assert client.get("/api/openapi.json").status_code == 401  # any valid key may read it
    resp = client.get("/api/openapi.json", headers=auth)
    assert resp.status_code == 200
    spec = resp.json
    validate(spec)
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "patch", "put", "delete")}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <int:rule_id> is {rule_id}
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and routes <= documented
    create = spec["paths"]["/api/v1/links"]["post"]
    assert "409" in create["responses"] and create["security"]


def test_error_shape_is_the_same_everywhere(client, auth):
    for resp in (client.get("/api/v1/links"),                                   # 401
                 client.get("/api/v1/links/nope", headers=auth),               # 404
                 client.post("/api/v1/links", json={}, headers=auth),          # 422
                 client.delete("/api/v1/links", headers=auth)):                # 405
        body = resp.json
        assert set(body) == {"error"}, body
        assert {"code", "message", "field"} <= set(body["error"])
