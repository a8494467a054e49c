# Unit tests for data.tether.identity.
package tether_test.identity

import rego.v1

import data.tether_test.fixtures as f

test_known if {
	data.tether.identity.known with input as f.req
}

test_unknown_when_subject_null if {
	not data.tether.identity.known with input as f.merge(f.req, {"subject": null})
}

test_active if {
	data.tether.identity.active with input as f.req
	not data.tether.identity.active with input as f.with_subject({"status": "suspended"})
}

test_provisioned if {
	data.tether.identity.provisioned with input as f.with_subject({"status": "provisioned"})
	not data.tether.identity.provisioned with input as f.req
}

test_proofed_only_when_true if {
	data.tether.identity.proofed with input as f.req
	not data.tether.identity.proofed with input as f.with_subject({"proofed": "yes"})
}

test_tier_defaults_to_standard if {
	s := {"id": "x", "status": "active"}
	data.tether.identity.tier == "standard" with input as f.merge(f.req, {"subject": s})
	data.tether.identity.subject_type == "employee" with input as f.merge(f.req, {"subject": s})
}

test_hard_gated_tiers if {
	data.tether.identity.hard_gated with input as f.with_subject({"risk_tier": "privileged"})
	data.tether.identity.hard_gated with input as f.with_subject({"risk_tier": "high"})
	not data.tether.identity.hard_gated with input as f.req
}

test_is_service if {
	data.tether.identity.is_service with input as f.with_subject({"type": "service"})
	not data.tether.identity.is_service with input as f.req
}

test_is_break_glass if {
	data.tether.identity.is_break_glass with input as f.with_subject({"type": "break_glass"})
	not data.tether.identity.is_break_glass with input as f.req
}

test_status if {
	data.tether.identity.status == "active" with input as f.req
	not data.tether.identity.status with input as f.merge(f.req, {"subject": null})
}
