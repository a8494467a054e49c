# The Tether decision (decision-model §2): data.tether.decision is the full answer for one request.
# input: {action, subject, device_id, device, owned_devices, exceptions, break_glass, app, now_ns},
# composed by the service from its state store (src/engine/decision-input.ts).
package tether

import rego.v1

import data.tether.device
import data.tether.exceptions
import data.tether.identity
import data.tether.lifecycle

actions := {"access", "token", "entitle", "activate"}

# Actions that are about using an app from a device.
app_action if input.action in {"access", "token", "entitle"}

activating if input.action == "activate"

# Rule 1: no active identity, no access. Nothing lifts these.
deny contains "action_unknown" if not input.action in actions

deny contains "identity_unknown" if not identity.known

deny contains "identity_not_active" if {
	app_action
	identity.known
	not identity.active
}

deny contains "app_unknown" if {
	app_action
	not device.app_known
}

# Rule 2: activation needs a provisioned, proofed identity owning a qualifying device.
deny contains "identity_not_provisioned" if {
	activating
	identity.known
	not identity.provisioned
}

deny contains "identity_not_proofed" if {
	activating
	identity.known
	not identity.proofed
}

deny contains "no_compliant_device" if {
	activating
	identity.known
	not device_exempt
	not device.has_qualifying_device
}

# Rules 7 and 8 lift device rules for service and break-glass identities, activation's included: they
# own no user device, and would otherwise stay pending for ever.
device_exempt if identity.is_service

device_exempt if identity.is_break_glass

# Rule 7: break-glass identities skip device rules inside an open window, and only then.
break_glass_open if {
	input.now_ns >= input.break_glass.opened_at_ns
	input.now_ns < input.break_glass.expires_at_ns
}

deny contains "break_glass_inactive" if {
	app_action
	identity.active
	identity.is_break_glass
	not break_glass_open
}

# Rule 8: service identities skip device rules, but only on apps that allow services.
deny contains "service_not_allowed" if {
	app_action
	identity.active
	identity.is_service
	device.app_known
	not device.app.allow_service == true
}

# Rules 3-6: device posture for ordinary identities on a known app.
posture_checked if {
	app_action
	identity.active
	device.app_known
	not identity.is_service
	not identity.is_break_glass
}

soft_gate if {
	posture_checked
	device.soft_gate_applies
}

deny contains r if {
	posture_checked
	not soft_gate
	some r in device.posture
	not r in exceptions.lifted
}

exception_used if {
	posture_checked
	not soft_gate
	exceptions.chosen_id
}

# Informational reasons: present in `reasons` without denying.
notes contains "enrollment_pending" if soft_gate

default allow := false

allow if count(deny) == 0

default limited := false

limited if {
	allow
	soft_gate
}

# Choice 9: every decision about a break-glass identity, activation included, allowed or not.
obligations contains "alert" if identity.is_break_glass

obligations contains "exception_used" if exception_used

default exception := null

exception := exceptions.chosen if exception_used

decision := {
	"allow": allow,
	"reasons": sort(deny | notes),
	"limited": limited,
	"obligations": sort(obligations),
	"lifecycle": lifecycle.state,
	"exception": exception,
}
