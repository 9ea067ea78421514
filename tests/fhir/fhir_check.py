"""Checks of exported FHIR Bundles with an independent R4 implementation (fhir.resources 6.4.0,
tests/fhir/requirements-validate.txt), used by scripts/test-fhir.

  validate BUNDLE                          every entry parses as its R4 resource; prints counts by type
  consent BUNDLE GRANTEE SCOPE CATEGORIES  the grant's Consent: permit, actor, period, categories, actions
  emergency BUNDLE DOCTOR                  an AuditEvent of the doctor's emergency access with purpose ETREAT
  same-records SOURCE EXPORT               the export's record resources equal SOURCE's clinical resources, in order

Exit 1 with a message on the first failed check.
"""

import json
import sys

from fhir.resources.bundle import Bundle

NOT_RECORDS = {"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "Provenance", "Consent", "AuditEvent"}
ADDRESS = "urn:ehr-chain:address"
CATEGORY = "https://ehr-chain.example/fhir/CodeSystem/category"
ACTIONS = {"read": ["access"], "write": ["access", "correct"], "manage": ["access", "correct", "disclose"]}


def fail(message):
    print(f"fhir_check: {message}", file=sys.stderr)
    sys.exit(1)


def load(path):
    """Resources of a Bundle file, or of an NDJSON file (one resource per line)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [entry["resource"] for entry in json.loads(text).get("entry", [])]


def of_type(resources, resource_type):
    return [r for r in resources if r.get("resourceType") == resource_type]


def validate(path):
    bundle = Bundle.parse_file(path)
    counts = {}
    for entry in bundle.entry or []:
        counts[entry.resource.resource_type] = counts.get(entry.resource.resource_type, 0) + 1
    print(json.dumps({"type": bundle.type, "entries": len(bundle.entry or []), "by_type": counts}))


def consent(path, grantee, scope, categories):
    wanted = sorted(categories.split(","))
    found = [c for c in of_type(load(path), "Consent") if any(a["reference"].get("identifier", {}).get("value") == grantee for a in c["provision"].get("actor", []))]
    if len(found) != 1:
        fail(f"{len(found)} Consent resources name {grantee}, expected 1")
    c = found[0]
    provision = c["provision"]
    actor = provision["actor"][0]
    checks = {
        "status": (c["status"], "active"),
        "scope": (c["scope"]["coding"][0]["code"], "patient-privacy"),
        "policyRule": (c["policyRule"]["coding"][0]["code"], "OPTIN"),
        "provision.type": (provision["type"], "permit"),
        "actor role": (actor["role"]["coding"][0]["code"], "IRCP"),
        "actor system": (actor["reference"]["identifier"]["system"], ADDRESS),
        "class": (sorted(x["code"] for x in provision["class"] if x["system"] == CATEGORY), wanted),
        "securityLabel": (sorted(x["code"] for x in provision["securityLabel"] if x["system"] == CATEGORY), wanted),
        "actions": ([a["coding"][0]["code"] for a in provision["action"]], ACTIONS[scope]),
        "period.start = dateTime": (provision["period"]["start"], c["dateTime"]),
    }
    for name, (got, want) in checks.items():
        if got != want:
            fail(f"Consent of {grantee}: {name} is {got}, expected {want}")
    print(json.dumps({"consent": grantee, "categories": wanted, "period": provision["period"], "actor": actor["reference"].get("display")}))


def emergency(path, doctor):
    events = [
        e
        for e in of_type(load(path), "AuditEvent")
        if any(s["code"] == "emergency_access" for s in e.get("subtype", []))
        and any(a["who"].get("identifier", {}).get("value") == doctor for a in e["agent"])
    ]
    if not events:
        fail(f"no AuditEvent of an emergency access by {doctor}")
    purposes = [c["code"] for p in events[0].get("purposeOfEvent", []) for c in p["coding"]]
    if purposes != ["ETREAT"]:
        fail(f"the emergency AuditEvent's purposeOfEvent is {purposes}, expected ETREAT")
    if events[0]["action"] != "R":
        fail(f"the emergency AuditEvent's action is {events[0]['action']}, expected R")
    print(json.dumps({"emergency_by": doctor, "recorded": events[0]["recorded"], "agent": events[0]["agent"][0]["who"].get("display")}))


def same_records(source, export):
    want = [r for r in load(source) if r.get("resourceType") not in NOT_RECORDS]
    got = [r for r in load(export) if r.get("resourceType") not in NOT_RECORDS]
    if len(want) != len(got):
        fail(f"{export} has {len(got)} record resources, {source} has {len(want)}")
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            fail(f"record resource {i + 1} ({a.get('resourceType')}) differs:\n{json.dumps(a)[:400]}\n{json.dumps(b)[:400]}")
    print(json.dumps({"same_records": len(got)}))


def main():
    commands = {"validate": (validate, 1), "consent": (consent, 4), "emergency": (emergency, 2), "same-records": (same_records, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) - 2 != commands[sys.argv[1]][1]:
        fail(__doc__)
    function, _ = commands[sys.argv[1]]
    function(*sys.argv[2:])


if __name__ == "__main__":
    main()
