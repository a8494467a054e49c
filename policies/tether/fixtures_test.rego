# Shared test fixtures: a healthy employee with one healthy corporate laptop asking for `email`
# (moderate), and merge helpers to vary one field at a time. Times are nanoseconds.
package tether_test.fixtures

import rego.v1

now := 1700000000000000000

minute := 60000000000

hour := 3600000000000

day := 86400000000000

# merge(b, o): b with the keys of o set to o's values (o wins, also for null).
merge(b, o) := {k: object.get(o, k, object.get(b, k, null)) | some k in ({k1 | some k1, _ in b} | {k2 | some k2, _ in o})}

alice := {
	"id": "alice",
	"status": "active",
	"type": "employee",
	"risk_tier": "standard",
	"proofed": true,
	"activated_at_ns": now - (30 * day),
	"status_since_ns": now - (30 * day),
}

mac := {
	"id": "mac-1",
	"owner": "alice",
	"enrolled": true,
	"compliant": true,
	"encrypted": true,
	"ownership": "corporate",
	"platform": "macos",
	"os_version": "14.6.1",
	"observed_at_ns": now - hour,
}

req := {
	"action": "access",
	"subject": alice,
	"device_id": "mac-1",
	"device": mac,
	"owned_devices": [mac],
	"exceptions": [],
	"break_glass": null,
	"app": "email",
	"now_ns": now,
}

# The request with the subject's fields changed.
with_subject(fields) := merge(req, {"subject": merge(alice, fields)})

# The request with the (only) device's fields changed, both as requested and as owned.
with_device(fields) := merge(req, {"device": dev, "owned_devices": [dev]}) if dev := merge(mac, fields)

# A request with the subject and device changed and other top-level fields overridden.
build(subject_fields, device_fields, top) := merge(merge(req, {"subject": s, "device": dev, "owned_devices": [dev]}), top) if {
	s := merge(alice, subject_fields)
	dev := merge(mac, device_fields)
}

# An exception for alice, valid for another day, on `email`.
exc := {
	"id": "exc-1",
	"identity": "alice",
	"waives": ["device_not_compliant"],
	"scope": {"apps": ["email"]},
	"reason": "laptop repair",
	"approved_by": "bob",
	"created_at_ns": now - hour,
	"expires_at_ns": now + day,
}
