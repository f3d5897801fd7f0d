#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the repository's own files: the seed
flows and their events, the flow test fixtures, the catalog's examples and GHL's webhook payload
schemas. Idempotent (file names are content hashes). Inputs the fuzzer found are kept beside."""
import glob
import hashlib
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
NOW = "2026-01-01T00:00:00.000Z"  # fuzz/support.hpp kFuzzNow


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# flow_fuzz: every flow file of the repository.
flow_files = sorted(glob.glob(os.path.join(ROOT, "flows", "*.yaml")) +
                    glob.glob(os.path.join(ROOT, "tests", "flow", "**", "*.yaml"), recursive=True))
for path in flow_files:
    put("flow_fuzz", read(path))

# expr_fuzz: every `${...}` of those files, with each seed event.
events = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(ROOT, "flows", "events", "*.json")))]
expressions = set()
for path in flow_files:
    for m in re.finditer(r"\$\{([^}\n]*)\}", read(path)):
        expressions.add(m.group(1).strip())
for m in re.finditer(r"\$\{([^}\n]*)\}", read(os.path.join(ROOT, "docs", "mapping-language.md"))):
    expressions.add(m.group(1).strip())
for i, expr in enumerate(sorted(expressions)):
    event = events[i % len(events)] if events else {}
    if isinstance(event, dict) and "payload" in event:
        event = event["payload"]
    put("expr_fuzz", expr + "\n" + json.dumps(event, separators=(",", ":")))

catalog = json.load(open(os.path.join(ROOT, "catalog", "catalog.json")))
connectors = {c["id"]: c for c in catalog["connectors"]}

# ghl_webhook_fuzz: byte 0 = signed with the fuzzer's Ed25519 key; body = a GHL webhook payload.
ghl_events = json.load(open(os.path.join(ROOT, "tests", "plugins", "ghl", "data",
                                         "webhook-events.extracted.json")))["events"]
for name, event in sorted(ghl_events.items()):
    examples = event.get("examples") if isinstance(event, dict) else None
    example = examples[0] if isinstance(examples, list) and examples else None
    if not isinstance(example, dict):
        example = {}
    example = dict(example)
    example.setdefault("type", name)
    example["timestamp"] = NOW
    example.setdefault("webhookId", "wh-" + name)
    put("ghl_webhook_fuzz", b"\x00" + json.dumps(example).encode())
for op in connectors["ghl"]["operations"]:
    if op.get("delivery") == "webhook" and op.get("examples"):
        payload = dict(op["examples"][0]["output"])
        payload["timestamp"] = NOW
        put("ghl_webhook_fuzz", b"\x00" + json.dumps(payload).encode())
        put("ghl_webhook_fuzz", b"\x40" + b"bm90IGEgc2lnbmF0dXJl\n" + json.dumps(payload).encode())

# umsatzio_webhook_fuzz: byte 0 = HMAC-signed; then the GraphQL answer line; then the envelope.
events_by_name = {
    "newContact": {"contact": {"id": "c-1", "email": "a@example.com", "firstName": "Ada"}},
    "changeContactProperty": {"contact": {"id": "c-1", "email": "a@example.com"},
                              "changedProperties": ["email"]},
    "newDeal": {"deal": {"id": "d-1", "name": "Deal", "contactId": "c-1", "pipelineId": "p-1",
                         "stageId": "s-1"}},
    "changeDealProperty": {"deal": {"id": "d-1", "name": "Deal"}, "changedProperties": ["name"]},
    "updateDealStage": {"deal": {"id": "d-1", "pipelineId": "p-1", "stageId": "s-2"},
                        "previousStageId": "s-1"},
    "submitForm": {"formId": "f-1", "submissionId": "sub-1", "contact": {"id": "c-1"}},
    "newActivity": {"activity": {"id": "a-1", "contactId": "c-1", "kind": "phone_call"}},
}
answer = json.dumps({"data": {"contact": {"id": "c-1", "email": "a@example.com"}}})
for name, data in events_by_name.items():
    envelope = {"id": "evt-" + name, "event": name, "webhookId": "wh-1", "occurredAt": NOW,
                "data": data}
    put("umsatzio_webhook_fuzz", b"\x00" + answer.encode() + b"\n" + json.dumps(envelope).encode())
    put("umsatzio_webhook_fuzz", b"\x60" + b"tok-fuzz?token=tok-fuzz\n" + answer.encode() + b"\n" +
        json.dumps(envelope).encode())

# ghl_rest_fuzz / umsatzio_graphql_fuzz: "<operation>\n<status>\n<headers>\n\n<body>".
for target, cid in (("ghl_rest_fuzz", "ghl"), ("umsatzio_graphql_fuzz", "umsatzio")):
    for op in connectors[cid]["operations"]:
        if op["kind"] != "action" and op.get("delivery") != "poll":
            continue
        output = op["examples"][0]["output"] if op.get("examples") else {}
        body = json.dumps({"data": output} if cid == "umsatzio" else output)
        headers = "Content-Type: application/json\n"
        if cid == "ghl":
            headers += "X-RateLimit-Remaining: 99\nX-RateLimit-Max: 100\nX-RateLimit-Interval-Milliseconds: 10000\n"
        put(target, op["id"] + "\n200\n" + headers + "\n" + body)
    put(target, "x\n429\nRetry-After: 3\n\n{}")
    put(target, "x\n401\n\n{\"message\":\"Invalid JWT\"}")
    put(target, "x\n422\n\n{\"message\":[\"email must be an email\"],\"statusCode\":422}")
    put(target, "x\n200\n\n{\"errors\":[{\"message\":\"no\",\"extensions\":{\"code\":\"NOT_FOUND\"}}]}")

# http_server_fuzz: raw HTTP/1.1 requests as they arrive on the webhook server's socket.
CRLF = "\r\n"


def request(method, target, headers=(), body=""):
    head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8088"] + list(headers)
    if body and not any(h.lower().startswith("transfer-encoding") for h in headers):
        head.append(f"Content-Length: {len(body.encode())}")
    return CRLF.join(head) + CRLF + CRLF + body


ghl_body = json.dumps({"type": "ContactCreate", "locationId": "loc-1", "id": "c-1",
                       "timestamp": NOW, "webhookId": "wh-1"})
for data in (
        request("POST", "/hooks/ghl-contact-created", ["Content-Type: application/json",
                                                       "X-GHL-Signature: bm90IGEgc2lnbmF0dXJl"],
                ghl_body),
        request("POST", "/hooks/umsatzio-in/tok-1?token=tok-1&x=%20y",
                ["Content-Type: application/json", "X-Umsatzio-Signature: sha256=00ff"], "{}"),
        request("POST", "/hooks/x", ["Transfer-Encoding: chunked"], "2\r\n{}\r\n0\r\n\r\n"),
        request("POST", "/hooks/x", ["Content-Length: 4096"], "a" * 64),
        request("POST", "/hooks/x", ["Content-Length: 99999999999"], ""),
        request("POST", "/hooks/x", [], "b" * 1500),
        request("GET", "/metrics"),
        request("HEAD", "/healthz"),
        request("GET", "/readyz?verbose=1#frag"),
        request("GET", "/hooks/x"),
        request("PUT", "/nope"),
        request("POST", "http://127.0.0.1:8088/hooks/absolute-form?q=1", [], "{}"),
        request("POST", "/hooks/%2e%2e/%2Fetc", [], "{}"),
        request("POST", "/hooks/", [], "")):
    put("http_server_fuzz", data)
