# Lifecycle state of one identity from its record and its devices (decision-model §3).
# The service evaluates data.tether.lifecycle.report for drift reports and events; the decision
# embeds `state`. Times are integer nanoseconds: input.now_ns, subject.status_since_ns.
package tether.lifecycle

import rego.v1

import data.tether.device
import data.tether.identity

status := input.subject.status

has_enrolled if {
	some od in input.owned_devices
	od.enrolled == true
}

# Provisioned for longer than the tolerance (onboarding should be done by then).
past_tolerance if {
	is_number(input.subject.status_since_ns)
	input.now_ns - input.subject.status_since_ns > data.config.provisioned_tolerance_ns
}

ready if {
	status == "provisioned"
	identity.proofed
	device.has_qualifying_device
}

# As `activate` (decision.rego): service and break-glass identities need no device.
ready if {
	status == "provisioned"
	identity.proofed
	device_exempt
}

stalled if {
	status == "provisioned"
	not ready
	has_enrolled
	past_tolerance
}

default state := "unknown"

state := "ready_for_activation" if ready

state := "enrolled_not_active" if stalled

state := "pending" if {
	status == "provisioned"
	not ready
	not stalled
}

state := "enrolled_not_active" if {
	status in {"suspended", "deprovisioned"}
	has_enrolled
}

state := "suspended" if {
	status == "suspended"
	not has_enrolled
}

state := "offboarded" if {
	status == "deprovisioned"
	not has_enrolled
}

# Service and break-glass identities are not held to device rules (rules 7 and 8): while active, their
# devices neither grant nor remove access, so no device state is drift for them.
device_exempt if identity.is_service

device_exempt if identity.is_break_glass

state := "active_exempt" if {
	status == "active"
	device_exempt
}

device_bound_active if {
	status == "active"
	not device_exempt
}

state := "healthy" if {
	device_bound_active
	device.has_qualifying_device
}

state := "active_noncompliant" if {
	device_bound_active
	has_enrolled
	not device.has_qualifying_device
}

state := "active_in_grace" if {
	device_bound_active
	not has_enrolled
	device.in_grace
}

state := "active_unenrolled" if {
	device_bound_active
	not has_enrolled
	not device.in_grace
}

# Drift states and their kind: "drift" (state and access disagree) or "risk".
drift_kinds := {
	"enrolled_not_active": "drift",
	"active_unenrolled": "drift",
	"active_noncompliant": "risk",
}

default drift := false

drift if drift_kinds[state]

drift_reasons contains "onboarding_incomplete" if {
	state == "enrolled_not_active"
	status == "provisioned"
}

drift_reasons contains "offboarding_incomplete" if {
	state == "enrolled_not_active"
	status != "provisioned"
}

drift_reasons contains "no_enrolled_device" if state == "active_unenrolled"

drift_reasons contains "no_compliant_device" if state == "active_noncompliant"

# What the service reads for one identity.
report := {
	"state": state,
	"drift": drift,
	"kind": object.get(drift_kinds, state, null),
	"reasons": sort(drift_reasons),
}
