# Device posture for one request (decision-model rules 3-5) and the "qualifying device" predicate
# shared by `activate` and the lifecycle states. Times are integer nanoseconds passed in the input.
package tether.device

import rego.v1

import data.tether.identity

rank := {"low": 1, "moderate": 2, "high": 3}

# The app asked for, from the catalog (data.apps: data.json merged with PUT /v1/apps).
app := data.apps[input.app]

app_known if app

# Admin apps count as high; an app without a sensitivity is treated as high (fail closed).
app_sensitivity := "high" if app.admin == true

app_sensitivity := object.get(app, "sensitivity", "high") if not app.admin == true

# The gate applied: the app's sensitivity, raised to high for high/privileged identities.
gate := "high" if identity.hard_gated

gate := app_sensitivity if not identity.hard_gated

# The device named in the request, if one was named (input.device_id) and found (input.device).
requested if {
	input.device_id != null
	input.device_id != ""
}

d := input.device if input.device.id

owned if d.owner == input.subject.id

enrolled if d.enrolled == true

compliant if d.compliant == true

encrypted if d.encrypted == true

# How far a source's time may be ahead of now (clock skew); the store refuses later times on write,
# and a time further ahead is not trusted here either (a future check-in would stay "fresh" for years).
max_clock_skew_ns := object.get(data.config, "max_clock_skew_ns", 300000000000)

not_ahead(ns) if ns - input.now_ns <= max_clock_skew_ns

# Missing or non-numeric timestamps are never fresh (fail closed on absent MDM data).
fresh_for(dev, level) if {
	is_number(dev.observed_at_ns)
	input.now_ns - dev.observed_at_ns <= data.config.max_age_ns[level]
	not_ahead(dev.observed_at_ns)
}

fresh if fresh_for(d, gate)

# Ownership not listed in data.config.ownership_limits (missing, null, misspelt) is refused.
ownership := object.get(d, "ownership", "unspecified")

ownership_ok if {
	limit := data.config.ownership_limits[ownership]
	rank[gate] <= rank[limit]
}

# Posture reasons for the requested device, one per failed condition.
posture contains "device_missing" if not requested

posture contains "device_unknown" if {
	requested
	not d
}

posture contains "device_not_owned_by_subject" if {
	d
	not owned
}

posture contains "device_not_enrolled" if {
	d
	not enrolled
}

posture contains "device_not_compliant" if {
	d
	not compliant
}

posture contains "device_not_encrypted" if {
	d
	gate == "high"
	not encrypted
}

posture contains "device_state_stale" if {
	d
	not fresh
}

posture contains "device_ownership_not_allowed" if {
	d
	not ownership_ok
}

# Soft gate (rule 3, low apps): inside the grace after activated_at, an identity that owns no
# enrolled device is let in, limited.
has_enrolled_device if {
	some od in input.owned_devices
	od.enrolled == true
}

in_grace if {
	is_number(input.subject.activated_at_ns)
	input.now_ns - input.subject.activated_at_ns <= data.config.enrollment_grace_ns
	not_ahead(input.subject.activated_at_ns)
}

soft_gate_applies if {
	gate == "low"
	not has_enrolled_device
	in_grace
}

# A device that qualifies the identity for activation and for the healthy lifecycle state:
# enrolled, compliant, fresh, and encrypted for high/privileged tiers.
qualifying_level := "high" if identity.hard_gated

qualifying_level := "moderate" if not identity.hard_gated

qualifying(dev) if {
	dev.enrolled == true
	dev.compliant == true
	fresh_for(dev, qualifying_level)
	not identity.hard_gated
}

qualifying(dev) if {
	dev.enrolled == true
	dev.compliant == true
	fresh_for(dev, qualifying_level)
	dev.encrypted == true
}

has_qualifying_device if {
	some od in input.owned_devices
	qualifying(od)
}
