# Unit tests for data.tether.lifecycle: every state of decision-model §3 and the drift report.
package tether_test.lifecycle

import rego.v1

import data.tether_test.fixtures as f

state(inp) := s if {
	s := data.tether.lifecycle.state with input as inp
}

report(inp) := r if {
	r := data.tether.lifecycle.report with input as inp
}

fresh_prov := {"status": "provisioned", "status_since_ns": f.now - f.day}

old_prov := {"status": "provisioned", "status_since_ns": f.now - (10 * f.day)}

test_unknown if {
	state(f.merge(f.req, {"subject": null})) == "unknown"
}

test_pending_without_devices if {
	state(f.merge(f.with_subject(fresh_prov), {"owned_devices": []})) == "pending"
}

test_pending_with_noncompliant_device_within_tolerance if {
	state(f.build(fresh_prov, {"compliant": false}, {})) == "pending"
}

test_pending_when_not_proofed if {
	state(f.build(f.merge(fresh_prov, {"proofed": false}), {}, {})) == "pending"
}

test_ready_for_activation if {
	state(f.build(fresh_prov, {}, {})) == "ready_for_activation"
	report(f.build(fresh_prov, {}, {})).drift == false
}

test_ready_for_activation_even_past_tolerance if {
	state(f.build(old_prov, {}, {})) == "ready_for_activation"
}

test_enrolled_not_active_onboarding_stalled if {
	r := report(f.build(old_prov, {"compliant": false}, {}))
	r.state == "enrolled_not_active"
	r.drift == true
	r.kind == "drift"
	r.reasons == ["onboarding_incomplete"]
}

test_pending_past_tolerance_without_enrolled_device if {
	state(f.merge(f.with_subject(old_prov), {"owned_devices": []})) == "pending"
}

test_enrolled_not_active_offboarding if {
	r := report(f.with_subject({"status": "deprovisioned"}))
	r.state == "enrolled_not_active"
	r.reasons == ["offboarding_incomplete"]
	state(f.with_subject({"status": "suspended"})) == "enrolled_not_active"
}

test_offboarded if {
	r := report(f.merge(f.with_subject({"status": "deprovisioned"}), {"owned_devices": []}))
	r.state == "offboarded"
	r.drift == false
	r.kind == null
}

test_offboarded_with_unenrolled_device if {
	state(f.build({"status": "deprovisioned"}, {"enrolled": false}, {})) == "offboarded"
}

test_suspended_without_devices if {
	state(f.merge(f.with_subject({"status": "suspended"}), {"owned_devices": []})) == "suspended"
}

test_healthy if {
	r := report(f.req)
	r.state == "healthy"
	r.drift == false
	r.reasons == []
}

test_active_noncompliant if {
	r := report(f.with_device({"compliant": false}))
	r.state == "active_noncompliant"
	r.drift == true
	r.kind == "risk"
	r.reasons == ["no_compliant_device"]
}

test_active_noncompliant_when_stale if {
	state(f.with_device({"observed_at_ns": f.now - (10 * f.day)})) == "active_noncompliant"
}

test_active_unenrolled if {
	r := report(f.merge(f.req, {"owned_devices": []}))
	r.state == "active_unenrolled"
	r.kind == "drift"
	r.reasons == ["no_enrolled_device"]
}

test_active_in_grace if {
	s := f.with_subject({"activated_at_ns": f.now - f.hour})
	r := report(f.merge(s, {"owned_devices": []}))
	r.state == "active_in_grace"
	r.drift == false
}

test_active_exempt_for_service_and_break_glass_identities if {
	every t in ["service", "break_glass"] {
		no_devices := report(f.merge(f.with_subject({"type": t}), {"owned_devices": []}))
		no_devices.state == "active_exempt"
		no_devices.drift == false
		noncompliant := report(f.build({"type": t}, {"compliant": false}, {}))
		noncompliant.state == "active_exempt"
		noncompliant.drift == false
	}
}

test_exempt_types_still_drift_when_not_active if {
	state(f.build({"type": "service", "status": "suspended"}, {}, {})) == "enrolled_not_active"
}

test_status_and_has_enrolled if {
	data.tether.lifecycle.status == "active" with input as f.req
	data.tether.lifecycle.has_enrolled with input as f.req
	not data.tether.lifecycle.has_enrolled with input as f.merge(f.req, {"owned_devices": []})
}

test_past_tolerance if {
	data.tether.lifecycle.past_tolerance with input as f.with_subject(old_prov)
	not data.tether.lifecycle.past_tolerance with input as f.with_subject(fresh_prov)
	not data.tether.lifecycle.past_tolerance with input as f.with_subject({"status_since_ns": null})
}

test_ready_and_stalled if {
	data.tether.lifecycle.ready with input as f.build(fresh_prov, {}, {})
	not data.tether.lifecycle.stalled with input as f.build(fresh_prov, {"compliant": false}, {})
	data.tether.lifecycle.stalled with input as f.build(old_prov, {"compliant": false}, {})
}

test_drift_kinds if {
	data.tether.lifecycle.drift_kinds.active_noncompliant == "risk"
	not data.tether.lifecycle.drift_kinds.healthy
}
