#!/usr/bin/env python3
"""Generates the GHL operation declarations from the official OpenAPI specs.

Run from the repository root:  python3 plugins/ghl/tools/gen_operations.py

Reads the spec copies in tests/plugins/ghl/data/openapi/ (HighLevel's highlevel-api-docs at
0af86a4cbd48c66a4071c7e509d1079f9f10ed17, CC0) and the webhook schemas in
tests/plugins/ghl/data/webhook-events.extracted.json, and writes plugins/ghl/ops_*.cpp. The generated files are committed; the contract test
(tests/plugins/ghl/contract_test.cpp) checks the built plugin against the same specs, so an
edit here that drifts from the spec fails the build.

The table OPERATIONS below is the only hand-written part: ferry id, spec operation, summary and
the few documented deviations (scopes the spec leaves empty, the undocumented search body).
"""
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DATA = os.path.join(ROOT, "tests", "plugins", "ghl", "data")
OUT = os.path.join(ROOT, "plugins", "ghl")

# (ferry id, spec file, operationId, summary, options)
# options: scope (when the spec declares none), body / output (JSON-schema overrides where the
# spec has an empty schema), group (output file).
SEARCH_BODY = {
    "type": "object",
    "required": ["locationId", "pageLimit"],
    "properties": {
        "locationId": {"type": "string", "description": "Location (sub-account) to search."},
        "pageLimit": {"type": "number", "description": "Records per page (at most 500).", "example": 20},
        "page": {"type": "number", "description": "Page number, starting at 1 (at most 10,000 records in all); or use searchAfter."},
        "searchAfter": {"type": "array", "items": {}, "description": "Cursor: the searchAfter value of the last contact of the previous page."},
        "filters": {"type": "array", "items": {}, "description": "Filters: {field, operator: eq|not_eq|contains|not_contains|exists|not_exists|range, value} or {group: AND|OR, filters: [...]}."},
        "sort": {"type": "array", "items": {}, "description": "Sort order: [{field, direction: asc|desc}]."},
        "query": {"type": "string", "description": "Free-text query (at most 75 characters)."},
    },
}
SEARCH_OUTPUT = {
    "type": "object",
    "properties": {
        "contacts": {"type": "array", "description": "Matching contacts.", "items": {"$ref": "#/components/schemas/GetContectByIdSchema"}},
        "total": {"type": "number", "description": "Number of matching contacts.", "example": 1},
    },
}
DUPLICATE_OUTPUT = {
    "type": "object",
    "properties": {
        "contact": {"description": "The duplicate contact, or null when there is none.", "$ref": "#/components/schemas/GetContectByIdSchema"},
    },
}
BULK_TYPE = {"name": "type", "in": "path", "required": True,
             "description": "Whether the tags are added or removed (path segment the spec leaves undeclared).",
             "schema": {"type": "string", "enum": ["add", "remove"], "example": "add"}}

OPERATIONS = [
    # contacts.cpp
    ("ghl.contact.get", "contacts", "get-contact", "Get a contact by id", {"group": "contacts"}),
    ("ghl.contact.create", "contacts", "create-contact", "Create a contact", {"group": "contacts"}),
    ("ghl.contact.update", "contacts", "update-contact", "Update a contact", {"group": "contacts"}),
    ("ghl.contact.delete", "contacts", "delete-contact", "Delete a contact", {"group": "contacts"}),
    ("ghl.contact.upsert", "contacts", "upsert-contact", "Create or update a contact matched by email or phone", {"group": "contacts"}),
    ("ghl.contact.search", "contacts", "search-contacts-advanced", "Search contacts with filters, sort and paging",
     {"group": "contacts", "body": SEARCH_BODY, "output": SEARCH_OUTPUT}),
    ("ghl.contact.find_duplicate", "contacts", "get-duplicate-contact", "Find the contact a new one with this email or phone would duplicate",
     {"group": "contacts", "output": DUPLICATE_OUTPUT}),
    ("ghl.contact.list", "contacts", "get-contacts", "List contacts (deprecated by GHL: use ghl.contact.search)", {"group": "contacts"}),
    ("ghl.contact.list_by_business", "contacts", "get-contacts-by-businessId", "List the contacts of a business", {"group": "contacts"}),
    ("ghl.contact.bulk_tags", "contacts", "create-association", "Add or remove tags on many contacts at once",
     {"group": "contacts", "scope": "contacts.write", "extra_params": [BULK_TYPE]}),
    ("ghl.contact.bulk_business", "contacts", "add-remove-contact-from-business", "Attach many contacts to a business, or detach them (businessId null)",
     {"group": "contacts", "scope": "contacts.write"}),
    # tasks.cpp
    ("ghl.task.list", "contacts", "get-all-tasks", "List the tasks of a contact", {"group": "tasks"}),
    ("ghl.task.get", "contacts", "get-task", "Get a task of a contact", {"group": "tasks"}),
    ("ghl.task.create", "contacts", "create-task", "Create a task on a contact", {"group": "tasks"}),
    ("ghl.task.update", "contacts", "update-task", "Update a task of a contact", {"group": "tasks"}),
    ("ghl.task.delete", "contacts", "delete-task", "Delete a task of a contact", {"group": "tasks"}),
    ("ghl.task.complete", "contacts", "update-task-completed", "Mark a task completed or not completed", {"group": "tasks"}),
    # notes.cpp
    ("ghl.note.list", "contacts", "get-all-notes", "List the notes of a contact", {"group": "notes"}),
    ("ghl.note.get", "contacts", "get-note", "Get a note of a contact", {"group": "notes"}),
    ("ghl.note.create", "contacts", "create-note", "Create a note on a contact", {"group": "notes"}),
    ("ghl.note.update", "contacts", "update-note", "Update a note of a contact", {"group": "notes"}),
    ("ghl.note.delete", "contacts", "delete-note", "Delete a note of a contact", {"group": "notes"}),
    # contact_links.cpp: tags, followers, campaigns, workflows, appointments of one contact
    ("ghl.tag.add", "contacts", "add-tags", "Add tags to a contact", {"group": "contact_links"}),
    ("ghl.tag.remove", "contacts", "remove-tags", "Remove tags from a contact", {"group": "contact_links"}),
    ("ghl.follower.add", "contacts", "add-followers-contact", "Add followers (users) to a contact", {"group": "contact_links"}),
    ("ghl.follower.remove", "contacts", "remove-followers-contact", "Remove followers from a contact", {"group": "contact_links"}),
    ("ghl.campaign.add_contact", "contacts", "add-contact-to-campaign", "Add a contact to a campaign", {"group": "contact_links"}),
    ("ghl.campaign.remove_contact", "contacts", "remove-contact-from-campaign", "Remove a contact from a campaign", {"group": "contact_links"}),
    ("ghl.campaign.remove_contact_all", "contacts", "remove-contact-from-every-campaign", "Remove a contact from every campaign", {"group": "contact_links"}),
    ("ghl.workflow.add_contact", "contacts", "add-contact-to-workflow", "Add a contact to a workflow", {"group": "contact_links"}),
    ("ghl.workflow.remove_contact", "contacts", "delete-contact-from-workflow", "Remove a contact from a workflow", {"group": "contact_links"}),
    ("ghl.appointment.list_for_contact", "contacts", "get-appointments-for-contact", "List the appointments of a contact", {"group": "contact_links"}),
    # businesses.cpp
    ("ghl.business.list", "businesses", "get-businesses-by-location", "List the businesses of a location", {"group": "businesses"}),
    ("ghl.business.get", "businesses", "get-business", "Get a business", {"group": "businesses"}),
    ("ghl.business.create", "businesses", "create-business", "Create a business", {"group": "businesses"}),
    ("ghl.business.update", "businesses", "update-business", "Update a business", {"group": "businesses"}),
    ("ghl.business.delete", "businesses", "delete-Business", "Delete a business", {"group": "businesses"}),
    # locations.cpp
    ("ghl.location_tag.list", "locations", "get-location-tags", "List the tags of a location", {"group": "locations"}),
    ("ghl.location_tag.get", "locations", "get-tag-by-id", "Get a tag of a location", {"group": "locations", "scope": "locations/tags.readonly"}),
    ("ghl.location_tag.create", "locations", "create-tag", "Create a tag in a location", {"group": "locations"}),
    ("ghl.location_tag.update", "locations", "update-tag", "Rename a tag of a location", {"group": "locations", "scope": "locations/tags.write"}),
    ("ghl.location_tag.delete", "locations", "delete-tag", "Delete a tag of a location", {"group": "locations", "scope": "locations/tags.write"}),
    ("ghl.custom_field.list", "locations", "get-custom-fields", "List the custom fields of a location", {"group": "locations"}),
    ("ghl.custom_field.get", "locations", "get-custom-field", "Get a custom field", {"group": "locations", "scope": "locations/customFields.readonly"}),
    ("ghl.custom_field.create", "locations", "create-custom-field", "Create a custom field", {"group": "locations"}),
    ("ghl.custom_field.update", "locations", "update-custom-field", "Update a custom field", {"group": "locations", "scope": "locations/customFields.write"}),
    ("ghl.custom_field.delete", "locations", "delete-custom-field", "Delete a custom field", {"group": "locations", "scope": "locations/customFields.write"}),
    ("ghl.custom_value.list", "locations", "get-custom-values", "List the custom values of a location", {"group": "locations"}),
    ("ghl.custom_value.get", "locations", "get-custom-value", "Get a custom value", {"group": "locations", "scope": "locations/customValues.readonly"}),
    ("ghl.custom_value.create", "locations", "create-custom-value", "Create a custom value", {"group": "locations"}),
    ("ghl.custom_value.update", "locations", "update-custom-value", "Update a custom value", {"group": "locations", "scope": "locations/customValues.write"}),
    ("ghl.custom_value.delete", "locations", "delete-custom-value", "Delete a custom value", {"group": "locations", "scope": "locations/customValues.write"}),
    ("ghl.location_task.search", "locations", "task-search", "Search the tasks of a location", {"group": "locations"}),
]

# Webhook triggers: (ferry id, event name in the docs, `type` value on the wire, record key path, summary)
EVENTS = [
    ("ghl.contact.created", "ContactCreate", "ContactCreate", "id", "A contact was created"),
    ("ghl.contact.updated", "ContactUpdate", "ContactUpdate", "id", "A contact was updated"),
    ("ghl.contact.deleted", "ContactDelete", "ContactDelete", "id", "A contact was deleted"),
    ("ghl.contact.tag_updated", "ContactTagUpdate", "ContactTagUpdate", "id", "The tags of a contact changed"),
    ("ghl.contact.dnd_updated", "ContactDndUpdate", "ContactDndUpdate", "id", "The do-not-disturb settings of a contact changed"),
    ("ghl.task.created", "TaskCreate", "TaskCreate", "contactId", "A task was created"),
    ("ghl.task.completed", "TaskComplete", "TaskComplete", "contactId", "A task was completed"),
    ("ghl.task.deleted", "TaskDelete", "TaskDelete", "contactId", "A task was deleted"),
    ("ghl.note.created", "NoteCreate", "NoteCreate", "contactId", "A note was created"),
    ("ghl.note.updated", "NoteUpdate", "NoteUpdate", "contactId", "A note was updated"),
    ("ghl.note.deleted", "NoteDelete", "NoteDelete", "contactId", "A note was deleted"),
    ("ghl.appointment.created", "AppointmentCreate", "AppointmentCreate", "appointment.contactId", "An appointment was created"),
    ("ghl.appointment.updated", "AppointmentUpdate", "AppointmentUpdate", "appointment.contactId", "An appointment was updated"),
    ("ghl.appointment.deleted", "AppointmentDelete", "AppointmentDelete", "appointment.contactId", "An appointment was deleted"),
    ("ghl.app.installed", "AppInstall", "INSTALL", "locationId", "The app was installed in a location or company"),
    ("ghl.app.uninstalled", "AppUninstall", "UNINSTALL", "locationId", "The app was uninstalled from a location or company"),
]

# Webhook triggers whose every event is a full snapshot of the record its key names, so that
# queued events of one record coalesce (OperationSpec::coalesce). Note and appointment updates
# are keyed by their contact: two of them may be two different notes, so they never coalesce.
COALESCE = {"ghl.contact.updated"}

MAX_DEPTH = 4
MAX_EXAMPLE_PROPS = 8


def load_specs():
    specs = {}
    for name in ("contacts", "businesses", "locations"):
        with open(os.path.join(DATA, "openapi", "apps", name + ".json")) as f:
            specs[name] = json.load(f)
    with open(os.path.join(DATA, "openapi", "common", "common-schemas.json")) as f:
        specs["common"] = json.load(f)
    return specs


def find_op(spec, operation_id):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise SystemExit("operation %s not found" % operation_id)


def cpp_str(s):
    return json.dumps(s, ensure_ascii=False)


def humanize(name):
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").lower()
    return words[:1].upper() + words[1:]


class Gen:
    def __init__(self, specs, uses=None):
        self.specs = specs
        # Object schemas that occur more than once (the same members, field for field) are built
        # by one shared builder function (ops_schemas.cpp), named after the OpenAPI component
        # schema they come from. A first pass counts them (`uses` None), the second emits.
        self.counting = uses is None
        self.uses = {} if uses is None else uses
        self.builders = {}   # canonical object -> (function name, open, emitted members)
        self.taken = set()

    def builder_name(self, base, is_input):
        words = re.split(r"[^A-Za-z0-9]+", base)
        name = "".join(w[:1].upper() + w[1:] for w in words if w)
        name = "schema" + (name or "Object") + ("Input" if is_input else "")
        candidate, n = name, 2
        while candidate in self.taken:
            candidate, n = "%s%d" % (name, n), n + 1
        self.taken.add(candidate)
        return candidate

    def resolve(self, spec_name, schema):
        """Follows $ref (and single-element allOf) to a concrete schema. Returns (spec, schema)."""
        seen = 0
        while True:
            seen += 1
            if seen > 10:
                return spec_name, {}
            if "$ref" in schema:
                ref = schema["$ref"]
                file, _, pointer = ref.partition("#")
                target_spec = "common" if "common-schemas" in file else spec_name
                node = self.specs[target_spec]
                for part in pointer.strip("/").split("/"):
                    node = node[part]
                merged = dict(node)
                if "description" in schema and schema["description"]:
                    merged["description"] = schema["description"]
                spec_name, schema = target_spec, merged
                continue
            if "allOf" in schema and len(schema["allOf"]) == 1:
                merged = dict(schema["allOf"][0])
                if schema.get("description"):
                    merged["description"] = schema["description"]
                schema = merged
                continue
            return spec_name, schema

    def field(self, spec_name, name, schema, required, depth, is_input, fill_location=False):
        """Returns (C++ expression of a Field, example value or None)."""
        expr, example, _ = self._field(spec_name, name, schema, required, depth, is_input, fill_location)
        return expr, example

    def _field(self, spec_name, name, schema, required, depth, is_input, fill_location=False):
        """Returns (C++ expression of a Field, example, the expression with every builder inlined:
        two fields with the same inlined expression are the same field)."""
        component = self.component(schema)
        spec_name, schema = self.resolve(spec_name, schema)
        desc = (schema.get("description") or "").strip() or humanize(name) + "."
        if fill_location:
            desc = desc.rstrip(".") + ". Defaults to the connection setting location_id."
            required = False
        t = schema.get("type")
        if isinstance(t, list) or "anyOf" in schema or "oneOf" in schema:
            t = None
        canon = None
        props = schema.get("properties")
        example = schema.get("example")
        if t == "object" and props and depth < MAX_DEPTH:
            members, canons = [], []
            ex = {}
            req = set(schema.get("required", [])) if is_input else set()
            for pname, pschema in props.items():
                expr, pex, pcanon = self._field(spec_name, pname, pschema, pname in req, depth + 1, is_input)
                members.append(expr)
                canons.append(pcanon)
                if pex is not None and (pname in req or len(ex) < MAX_EXAMPLE_PROPS):
                    ex[pname] = pex
            # build::object moves each member in; the fluent sdk::object(...).open() copies
            # the subtree once per call (schema_build.hpp).
            open_ = "false" if is_input else "true"
            key = open_ + "".join(",\n" + c for c in canons)
            canon = "build::object(%s, %s)" % (cpp_str(name), key)
            if self.counting:
                self.uses[key] = self.uses.get(key, 0) + 1
            if self.uses.get(key, 0) > 1:
                if key not in self.builders:
                    self.builders[key] = (self.builder_name(component or name, is_input), open_, members)
                expr = "%s(%s)" % (self.builders[key][0], cpp_str(name))
            else:
                expr = "build::object(%s, %s%s)" % (cpp_str(name), open_, "".join(",\n" + m for m in members))
            example = ex
        elif t == "object" and props is None and "properties" in schema and depth < MAX_DEPTH:
            expr = "sdk::field(%s, sdk::Type::Object).open()" % cpp_str(name)
            example = {}
        elif t == "array":
            items = schema.get("items") or {}
            iexpr, iex, icanon = self._field(spec_name, name + "[]", items, False, depth + 1, is_input)
            expr = "sdk::array(%s, %s)" % (cpp_str(name), iexpr)
            canon = "sdk::array(%s, %s)" % (cpp_str(name), icanon)
            if isinstance(example, list) and all(self.valid_for(items, e) for e in example) and example:
                example = example[:2]
            else:
                example = [iex] if iex is not None else []
        elif t in ("string", "Date"):
            expr = "sdk::str(%s)" % cpp_str(name)
            enum = schema.get("enum")
            if enum:
                expr += ".oneOf({%s})" % ", ".join(cpp_str(str(e)) for e in enum)
                if example not in enum:
                    example = enum[0]
            if not isinstance(example, str):
                example = None if not required else name + "-1"
        elif t == "boolean":
            expr = "sdk::boolean(%s)" % cpp_str(name)
            if not isinstance(example, bool):
                example = {"true": True, "false": False}.get(str(example).lower(), None if not required else True)
        elif t == "integer":
            expr = "sdk::integer(%s)" % cpp_str(name)
            if not isinstance(example, int) or isinstance(example, bool):
                example = None if not required else 1
        elif t == "number":
            expr = "sdk::number(%s)" % cpp_str(name)
            if not isinstance(example, (int, float)) or isinstance(example, bool):
                try:
                    example = int(str(example))
                except ValueError:
                    example = None if not required else 1
        else:
            expr = "sdk::any(%s)" % cpp_str(name)
            if example is None and required:
                example = name + "-1"
        if canon is None:
            canon = expr
        tail = ", %s, %s)" % ("true" if required else "false", cpp_str(desc))
        return "build::with(" + expr + tail, example, "build::with(" + canon + tail

    def shared_list(self, exprs, canons, base):
        """A field list several declarations share (a request body, the payload of the contact
        events) is one builder, like a shared object schema: returns the call, or None when the
        list is used once."""
        key = "list:" + ",\n".join(canons)
        if self.counting:
            self.uses[key] = self.uses.get(key, 0) + 1
        if not exprs or self.uses.get(key, 0) < 2:
            return None
        if key not in self.builders:
            self.builders[key] = (self.builder_name(base + "Fields", False), None, exprs)
        return self.builders[key][0] + "()"

    def component(self, schema):
        """The name of the OpenAPI component schema `schema` refers to, or None."""
        if "$ref" not in schema and "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        return ref.rsplit("/", 1)[-1] if ref else None

    def valid_for(self, items, value):
        _, items = self.resolve("contacts", items)
        t = items.get("type")
        return {"string": isinstance(value, str), "number": isinstance(value, (int, float)),
                "boolean": isinstance(value, bool)}.get(t, False)

    def operation(self, fid, spec_name, operation_id, summary, opts):
        spec = self.specs[spec_name]
        method, path, op = find_op(spec, operation_id)
        scopes = [s for sec in (op.get("security") or []) for ss in sec.values() for s in ss]
        scope = scopes[0] if scopes else opts.get("scope")
        if not scope:
            raise SystemExit("%s: no scope in spec and none given" % fid)
        inputs, where, example = [], [], {}
        params = [p for p in op.get("parameters", []) if p.get("in") in ("path", "query")]
        params += opts.get("extra_params", [])
        names = set()
        for p in params:
            pname = p["name"]
            fill = pname == "locationId"
            pschema = dict(p.get("schema") or {"type": "string"})
            if p.get("description") and not pschema.get("description"):
                pschema["description"] = p["description"]
            if "example" in p and "example" not in pschema:
                pschema["example"] = p["example"]
            expr, ex = self.field(spec_name, pname, pschema, bool(p.get("required")), 0, True, fill)
            inputs.append(expr)
            where.append((pname, p["in"]))
            names.add(pname)
            if (p.get("required") or p["in"] == "path") and not fill:
                example[pname] = ex if ex is not None else pname + "-1"
        body = opts.get("body")
        if body is None:
            content = op.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
        body_list = None
        if body is not None:
            component = self.component(body)
            bspec, body = self.resolve(spec_name, body)
            req = set(body.get("required", []))
            optional_examples = 0
            bexprs, bcanons = [], []
            for bname, bschema in (body.get("properties") or {}).items():
                if bname in names:
                    raise SystemExit("%s: body field %s collides with a parameter" % (fid, bname))
                fill = bname == "locationId"
                expr, ex, canon = self._field(bspec, bname, bschema, bname in req, 1, True, fill)
                bexprs.append(expr)
                bcanons.append(canon)
                where.append((bname, "body"))
                if fill:
                    continue
                if bname in req:
                    example[bname] = ex
                elif ex is not None and optional_examples < 3 and not isinstance(ex, (dict, list)):
                    example[bname] = ex
                    optional_examples += 1
            body_list = self.shared_list(bexprs, bcanons, component or fid)
            if body_list is None:
                inputs += bexprs
        responses = op.get("responses", {})
        status = min(int(k) for k in responses if k.startswith("2"))
        out_schema = opts.get("output")
        if out_schema is None:
            out_schema = (responses[str(status)].get("content", {}).get("application/json", {}).get("schema"))
        outputs, out_example = [], {}
        if out_schema is not None:
            ospec, out_schema = self.resolve(spec_name, out_schema)
            for oname, oschema in (out_schema.get("properties") or {}).items():
                expr, ex = self.field(ospec, oname, oschema, False, 1, False)
                outputs.append(expr)
                if ex is not None:
                    out_example[oname] = ex
        return {
            "id": fid, "method": method, "path": path, "operationId": operation_id,
            "scope": scope, "summary": summary, "description": (op.get("description") or op.get("summary") or "").strip(),
            "deprecated": bool(op.get("deprecated")), "inputs": inputs, "bodyList": body_list, "where": where,
            "outputs": outputs, "example": example, "outExample": out_example, "status": status,
            "specScopes": scopes, "spec": spec_name,
        }

    def event(self, fid, name, wire_type, record_key, summary, events):
        ev = events[name]
        schema = dict(ev["schema"])
        props = dict(schema.get("properties", {}))
        for extra, text in (("webhookId", "Unique id of this delivery (replays are refused)."),
                            ("timestamp", "When GHL sent the event (ISO-8601)."),
                            ("appId", "The Marketplace app the event was sent for."),
                            ("versionId", "The app version the event was sent for.")):
            props.setdefault(extra, {"type": "string", "description": text})
        outputs, canons = [], []
        for pname, pschema in props.items():
            expr, _, canon = self._field("contacts", pname, pschema, False, 1, False)
            outputs.append(expr)
            canons.append(canon)
        shared = self.shared_list(outputs, canons, name)
        output = shared if shared else "build::fields(%s)" % ",\n".join(outputs)
        example = dict(ev["examples"][0])
        # The docs' Appointment{Update,Delete} examples were copied from AppointmentCreate and
        # still say "type": "AppointmentCreate"; the example of a trigger must be its own type.
        example["type"] = wire_type
        return {"id": fid, "name": name, "wire": wire_type, "recordKey": record_key,
                "summary": summary, "description": ev.get("description", ""),
                "output": output, "example": example}


HEADER = "// GENERATED by plugins/ghl/tools/gen_operations.py from HighLevel's official OpenAPI specs\n" \
         "// (GoHighLevel/highlevel-api-docs@0af86a4, CC0). Do not edit: change the generator's table.\n"


def json_literal(value):
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "sdk::Json::parse(R\"json(%s)json\")" % text


def fn_name(fid):
    name = "".join(w.capitalize() for w in re.split(r"[._]", fid))
    return name[0].lower() + name[1:]


def emit_operation(op):
    # One small function per operation: GCC's variable tracking gives up on one huge function.
    lines = ["// %s %s (%s)" % (op["method"], op["path"], op["operationId"]),
             "RestOperation %s() {" % fn_name(op["id"]), "    RestOperation op;"]
    lines.append("    op.spec.id = %s;" % cpp_str(op["id"]))
    lines.append("    op.spec.summary = %s;" % cpp_str(op["summary"]))
    desc = "%s %s (spec operation `%s`, scope %s)." % (op["method"], op["path"], op["operationId"], op["scope"])
    if op["description"]:
        desc = op["description"] + " " + desc
    lines.append("    op.spec.description = %s;" % cpp_str(desc))
    lines.append("    op.spec.method = %s;" % cpp_str(op["method"]))
    lines.append("    op.spec.path = %s;" % cpp_str(op["path"]))
    lines.append("    op.spec.scopes = {%s};" % cpp_str(op["scope"]))
    if op["deprecated"]:
        lines.append("    op.spec.deprecated = true;")
    if op["bodyList"]:
        lines.append("    op.spec.input = build::concat(build::fields(%s), %s);" % (",\n".join(op["inputs"]), op["bodyList"]))
    else:
        lines.append("    op.spec.input = build::fields(%s);" % ",\n".join(op["inputs"]))
    lines.append("    op.spec.output = build::fields(%s);" % ",\n".join(op["outputs"]))
    lines.append("    op.spec.examples = {{%s, %s, %s}};" % (
        cpp_str("From the spec's field examples"), json_literal(op["example"]), json_literal(op["outExample"])))
    lines.append("    op.placement = {%s};" % ", ".join(
        "{%s, Place::%s}" % (cpp_str(n), {"path": "Path", "query": "Query", "body": "Body"}[w]) for n, w in op["where"]))
    lines.append("    op.successStatus = %d;" % op["status"])
    lines.append("    return op;")
    lines.append("}")
    return "\n".join(lines)


def generate(gen, events):
    groups = {}
    for fid, spec_name, operation_id, summary, opts in OPERATIONS:
        groups.setdefault(opts["group"], []).append(gen.operation(fid, spec_name, operation_id, summary, opts))
    evs = [gen.event(fid, name, wire, key, summary, events) for fid, name, wire, key, summary in EVENTS]
    return groups, evs


def emit_schemas(gen):
    """ops_schemas.hpp/.cpp: one builder function per object schema the declarations share."""
    builders = sorted(b for b in gen.builders.values() if b[1] is not None)
    lists = sorted(b for b in gen.builders.values() if b[1] is None)
    decls = "\n".join(["sdk::Field %s(std::string name);" % b[0] for b in builders] +
                      ["sdk::Schema %s();" % b[0] for b in lists])
    header = (HEADER + "\n#pragma once\n\n// Builders of the object schemas several declarations share (each an OpenAPI component\n"
              "// schema, or an object the spec repeats inline), one function each.\n\n#include <string>\n\n"
              "#include \"ferry/sdk/schema.hpp\"\n\nnamespace ferry::plugins::ghl {\n\nnamespace sdk = ferry::sdk;\n\n%s\n\n"
              "}  // namespace ferry::plugins::ghl\n") % decls
    # Each is built once, on its first call, and copied after: a copy makes the same allocations
    # but skips building every member from literals and moving it through build::with.
    defs = "\n\n".join(("sdk::Field %s(std::string name) {\n  static const sdk::Field prototype = build::object(\"\", %s%s);\n"
                         "  sdk::Field f = prototype;\n  f.name = std::move(name);\n  return f;\n}") % (
        fname, open_, "".join(",\n" + m for m in members)) for fname, open_, members in builders)
    defs += "".join(("\n\nsdk::Schema %s() {\n  static const sdk::Schema prototype = build::fields(%s);\n"
                     "  return prototype;\n}") % (fname, ",\n".join(members)) for fname, _, members in lists)
    source = (HEADER + "\n#include \"ops_schemas.hpp\"\n\n#include <utility>\n\n#include \"schema_build.hpp\"\n\n"
              "namespace ferry::plugins::ghl {\n\n%s\n\n}  // namespace ferry::plugins::ghl\n") % defs
    with open(os.path.join(OUT, "ops_schemas.hpp"), "w") as f:
        f.write(header)
    with open(os.path.join(OUT, "ops_schemas.cpp"), "w") as f:
        f.write(source)


def main():
    specs = load_specs()
    with open(os.path.join(DATA, "webhook-events.extracted.json")) as f:
        events = json.load(f)["events"]
    counter = Gen(specs)
    generate(counter, events)
    gen = Gen(specs, counter.uses)
    groups, evs = generate(gen, events)
    emit_schemas(gen)
    for group, ops in groups.items():
        fn = "".join(w.capitalize() for w in group.split("_"))
        body = "\n\n".join(emit_operation(op) for op in ops)
        calls = "\n".join("  ops.push_back(%s());" % fn_name(op["id"]) for op in ops)
        text = (HEADER + "\n#include \"operations.hpp\"\n#include \"ops_schemas.hpp\"\n#include \"schema_build.hpp\"\n\nnamespace ferry::plugins::ghl {\n\nnamespace {\n\n%s\n\n}  // namespace\n\n"
                "std::vector<RestOperation> %sOperations() {\n  std::vector<RestOperation> ops;\n%s\n  return ops;\n}\n\n"
                "}  // namespace ferry::plugins::ghl\n") % (body, fn[0].lower() + fn[1:], calls)
        with open(os.path.join(OUT, "ops_%s.cpp" % group), "w") as f:
            f.write(text)
    parts = []
    for (fid, name, wire, key, summary), ev in zip(EVENTS, evs):
        parts.append(("// %s\nWebhookEventSpec %s() {\n" % (name, fn_name(fid))) + "    WebhookEventSpec ev;\n    ev.spec.id = %s;\n    ev.spec.summary = %s;\n"
                     "    ev.spec.description = %s;\n    ev.spec.recordKey = %s;\n%s    ev.type = %s;\n"
                     "    ev.spec.output = %s;\n    ev.spec.examples = {{%s, sdk::Json::object(), %s}};\n"
                     "    return ev;\n}" % (
                         cpp_str(fid), cpp_str(summary),
                         cpp_str((ev["description"] + ". " if ev["description"] else "") +
                                 "GHL webhook event `%s` (payload `type` \"%s\")." % (name, wire)),
                         cpp_str(key), "    ev.spec.coalesce = true;\n" if fid in COALESCE else "",
                         cpp_str(wire), ev["output"],
                         cpp_str("Example from the GHL docs"), json_literal(ev["example"])))
    calls = "\n".join("  events.push_back(%s());" % fn_name(e[0]) for e in EVENTS)
    text = (HEADER + "\n#include \"operations.hpp\"\n#include \"ops_schemas.hpp\"\n#include \"schema_build.hpp\"\n\nnamespace ferry::plugins::ghl {\n\nnamespace {\n\n%s\n\n}  // namespace\n\n"
            "std::vector<WebhookEventSpec> webhookEvents() {\n  std::vector<WebhookEventSpec> events;\n%s\n"
            "  return events;\n}\n\n}  // namespace ferry::plugins::ghl\n") % ("\n\n".join(parts), calls)
    with open(os.path.join(OUT, "ops_events.cpp"), "w") as f:
        f.write(text)
    written = [os.path.join(OUT, "ops_%s.cpp" % g) for g in list(groups) + ["events", "schemas"]]
    written.append(os.path.join(OUT, "ops_schemas.hpp"))
    if shutil.which("clang-format"):
        subprocess.run(["clang-format", "-i"] + written, check=True, cwd=ROOT)
    print("generated %d operations in %d files, %d events, %d shared schema builders" % (
        len(OPERATIONS), len(groups), len(EVENTS), len(gen.builders)))


if __name__ == "__main__":
    sys.exit(main())
