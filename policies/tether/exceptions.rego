# Time-boxed exceptions (decision-model rule 6): an unexpired exception of the subject whose scope
# covers the app lifts exactly the device reasons it lists in `waives`, never an identity reason.
# input.exceptions: [{id, identity, waives: [codes], scope: {apps: [ids], max_sensitivity}, created_at_ns, expires_at_ns}]
package tether.exceptions

import rego.v1

import data.tether.device

# Only these codes can ever be waived, whatever an exception lists (the exceptions API accepts the
# same list; activation's no_compliant_device is not waivable: exceptions are scoped to apps).
waivable := {
	"device_missing",
	"device_unknown",
	"device_not_owned_by_subject",
	"device_not_enrolled",
	"device_not_compliant",
	"device_not_encrypted",
	"device_state_stale",
	"device_ownership_not_allowed",
}

unexpired(e) if {
	e.identity == input.subject.id
	input.now_ns < e.expires_at_ns
	within_max_length(e)
}

# Never standing: an exception longer than data.config.max_exception_ns counts for nothing, also one
# created before the maximum was lowered (the exceptions API refuses longer ones on creation).
within_max_length(e) if not is_number(data.config.max_exception_ns)

within_max_length(e) if e.expires_at_ns - e.created_at_ns <= data.config.max_exception_ns

# The scope names apps, a maximum sensitivity, or both; with both, the app must satisfy both (an
# approver adding a bound narrows the exception, never widens it).
in_apps(e) if {
	some a in e.scope.apps
	a == input.app
}

within_sensitivity(e) if device.rank[device.app_sensitivity] <= device.rank[e.scope.max_sensitivity]

names_apps(e) if count(e.scope.apps) > 0

bounds_sensitivity(e) if is_string(e.scope.max_sensitivity)

covers(e) if {
	in_apps(e)
	not bounds_sensitivity(e)
}

covers(e) if {
	within_sensitivity(e)
	not names_apps(e)
}

covers(e) if {
	in_apps(e)
	within_sensitivity(e)
}

# For each usable exception, the raised posture reasons it would lift.
lifts[e.id] := hits if {
	some e in input.exceptions
	unexpired(e)
	covers(e)
	hits := {r | some r in e.waives; r in waivable; r in device.posture}
	count(hits) > 0
}

# The one exception used: the one lifting the most reasons, ties broken by the smallest id.
best := max({n | some hits in lifts; n := count(hits)})

chosen_id := min({id | some id, hits in lifts; count(hits) == best})

chosen := e if {
	some e in input.exceptions
	e.id == chosen_id
}

lifted := lifts[chosen_id]
