# Unit tests for data.tether.decision: every rule and reason code of decision-model §2.
package tether_test

import rego.v1

import data.tether_test.fixtures as f

decide(inp) := r if {
	r := data.tether.decision with input as inp
}

# --- plain allows ---------------------------------------------------------------------------

test_healthy_access_allowed if {
	r := decide(f.req)
	r.allow == true
	r.reasons == []
	r.limited == false
	r.obligations == []
	r.exception == null
	r.lifecycle == "healthy"
}

test_token_allowed if {
	r := decide(f.merge(f.req, {"action": "token"}))
	r.allow == true
}

test_entitle_allowed if {
	r := decide(f.merge(f.req, {"action": "entitle"}))
	r.allow == true
}

test_action_unknown if {
	r := decide(f.merge(f.req, {"action": "delete"}))
	r.allow == false
	"action_unknown" in r.reasons
}

test_action_missing_denied if {
	r := decide(f.merge(f.req, {"action": null}))
	r.allow == false
	"action_unknown" in r.reasons
}

# --- rule 1: identity -------------------------------------------------------------------------

test_identity_unknown if {
	r := decide(f.merge(f.req, {"subject": null, "owned_devices": []}))
	r.allow == false
	"identity_unknown" in r.reasons
	r.lifecycle == "unknown"
}

test_identity_not_active_suspended if {
	r := decide(f.with_subject({"status": "suspended"}))
	r.allow == false
	r.reasons == ["identity_not_active"]
}

test_identity_not_active_provisioned if {
	r := decide(f.with_subject({"status": "provisioned"}))
	r.allow == false
	"identity_not_active" in r.reasons
}

test_identity_not_active_deprovisioned if {
	r := decide(f.with_subject({"status": "deprovisioned"}))
	r.allow == false
	"identity_not_active" in r.reasons
}

test_identity_not_active_not_lifted_by_exception if {
	e := f.merge(f.exc, {"waives": ["identity_not_active", "device_not_compliant"]})
	r := decide(f.build({"status": "suspended"}, {}, {"exceptions": [e]}))
	r.allow == false
	"identity_not_active" in r.reasons
	r.exception == null
}

test_app_unknown if {
	r := decide(f.merge(f.req, {"app": "no-such-app"}))
	r.allow == false
	r.reasons == ["app_unknown"]
}

# --- rule 2: activate -------------------------------------------------------------------------

provisioned := {"status": "provisioned", "status_since_ns": f.now - f.day}

test_activate_allowed if {
	r := decide(f.build(provisioned, {}, {"action": "activate", "app": null, "device_id": null, "device": null}))
	r.allow == true
	r.reasons == []
	r.lifecycle == "ready_for_activation"
}

test_activate_identity_not_provisioned if {
	r := decide(f.merge(f.req, {"action": "activate"}))
	r.allow == false
	r.reasons == ["identity_not_provisioned"]
}

test_activate_identity_not_proofed if {
	r := decide(f.build(f.merge(provisioned, {"proofed": false}), {}, {"action": "activate"}))
	r.allow == false
	r.reasons == ["identity_not_proofed"]
}

test_activate_proofed_missing_is_not_proofed if {
	r := decide(f.build(f.merge(provisioned, {"proofed": null}), {}, {"action": "activate"}))
	"identity_not_proofed" in r.reasons
}

test_activate_no_compliant_device if {
	r := decide(f.build(provisioned, {"compliant": false}, {"action": "activate"}))
	r.allow == false
	r.reasons == ["no_compliant_device"]
}

test_activate_no_device_at_all if {
	r := decide(f.merge(f.with_subject(provisioned), {"action": "activate", "owned_devices": []}))
	r.reasons == ["no_compliant_device"]
}

test_activate_stale_device_does_not_qualify if {
	r := decide(f.build(provisioned, {"observed_at_ns": f.now - (4 * f.day)}, {"action": "activate"}))
	r.reasons == ["no_compliant_device"]
}

test_activate_unenrolled_device_does_not_qualify if {
	r := decide(f.build(provisioned, {"enrolled": false}, {"action": "activate"}))
	r.reasons == ["no_compliant_device"]
}

test_activate_privileged_needs_encryption if {
	s := f.merge(provisioned, {"risk_tier": "privileged"})
	r := decide(f.build(s, {"encrypted": false}, {"action": "activate"}))
	r.reasons == ["no_compliant_device"]
	ok := decide(f.build(s, {}, {"action": "activate"}))
	ok.allow == true
}

test_activate_standard_needs_no_encryption if {
	r := decide(f.build(provisioned, {"encrypted": false}, {"action": "activate"}))
	r.allow == true
}

test_activate_lists_every_missing_condition if {
	s := {"status": "active", "proofed": false}
	r := decide(f.build(s, {"compliant": false}, {"action": "activate"}))
	r.reasons == ["identity_not_proofed", "identity_not_provisioned", "no_compliant_device"]
}

test_activate_identity_unknown if {
	r := decide(f.merge(f.req, {"action": "activate", "subject": null}))
	r.reasons == ["identity_unknown"]
}

# --- rule 3: device posture -------------------------------------------------------------------

test_device_missing if {
	r := decide(f.merge(f.req, {"device_id": null, "device": null}))
	r.allow == false
	r.reasons == ["device_missing"]
}

test_device_unknown if {
	r := decide(f.merge(f.req, {"device_id": "no-such-device", "device": null}))
	r.allow == false
	r.reasons == ["device_unknown"]
}

test_device_not_owned_by_subject if {
	r := decide(f.with_device({"owner": "mallory"}))
	r.allow == false
	r.reasons == ["device_not_owned_by_subject"]
}

test_device_not_enrolled if {
	r := decide(f.with_device({"enrolled": false}))
	r.allow == false
	r.reasons == ["device_not_enrolled"]
}

test_device_not_compliant if {
	r := decide(f.with_device({"compliant": false}))
	r.allow == false
	r.reasons == ["device_not_compliant"]
	r.lifecycle == "active_noncompliant"
}

test_device_compliance_missing_is_not_compliant if {
	r := decide(f.with_device({"compliant": null}))
	"device_not_compliant" in r.reasons
}

test_device_not_encrypted_high_app if {
	r := decide(f.merge(f.with_device({"encrypted": false}), {"app": "payroll"}))
	r.allow == false
	r.reasons == ["device_not_encrypted"]
}

test_moderate_app_needs_no_encryption if {
	r := decide(f.with_device({"encrypted": false}))
	r.allow == true
}

test_high_app_allowed_with_full_posture if {
	r := decide(f.merge(f.req, {"app": "payroll"}))
	r.allow == true
}

test_admin_app_is_hard_gated if {
	r := decide(f.merge(f.with_device({"encrypted": false}), {"app": "admin-console"}))
	r.reasons == ["device_not_encrypted"]
}

test_privileged_identity_hard_gated_on_low_app if {
	r := decide(f.build({"risk_tier": "privileged"}, {"encrypted": false}, {"app": "wiki"}))
	r.allow == false
	r.reasons == ["device_not_encrypted"]
}

test_high_tier_identity_hard_gated if {
	r := decide(f.build({"risk_tier": "high"}, {"encrypted": false}, {}))
	r.reasons == ["device_not_encrypted"]
}

test_reasons_sorted_and_complete if {
	r := decide(f.with_device({"enrolled": false, "compliant": false, "owner": "mallory"}))
	r.reasons == ["device_not_compliant", "device_not_enrolled", "device_not_owned_by_subject"]
}

# --- rule 3, low apps: soft gate --------------------------------------------------------------

in_grace := {"activated_at_ns": f.now - f.day}

test_enrollment_pending_allowed_limited if {
	r := decide(f.merge(f.with_subject(in_grace), {"app": "wiki", "device_id": null, "device": null, "owned_devices": []}))
	r.allow == true
	r.limited == true
	r.reasons == ["enrollment_pending"]
	r.lifecycle == "active_in_grace"
}

test_enrollment_pending_with_unknown_device if {
	r := decide(f.merge(f.with_subject(in_grace), {"app": "wiki", "device_id": "x", "device": null, "owned_devices": []}))
	r.allow == true
	r.reasons == ["enrollment_pending"]
}

test_enrollment_grace_over_denies if {
	s := {"activated_at_ns": f.now - (4 * f.day)}
	r := decide(f.merge(f.with_subject(s), {"app": "wiki", "device_id": null, "device": null, "owned_devices": []}))
	r.allow == false
	r.limited == false
	r.reasons == ["device_missing"]
}

test_enrollment_grace_not_for_moderate_apps if {
	r := decide(f.merge(f.with_subject(in_grace), {"device_id": null, "device": null, "owned_devices": []}))
	r.allow == false
	r.reasons == ["device_missing"]
}

test_enrollment_grace_ends_with_enrolled_device if {
	r := decide(f.merge(f.build(in_grace, {"compliant": false}, {}), {"app": "wiki"}))
	r.allow == false
	r.reasons == ["device_not_compliant"]
}

test_low_app_healthy_not_limited if {
	r := decide(f.merge(f.req, {"app": "wiki"}))
	r.allow == true
	r.limited == false
}

# --- rule 4: freshness ------------------------------------------------------------------------

test_device_state_stale if {
	r := decide(f.with_device({"observed_at_ns": f.now - (4 * f.day)}))
	r.allow == false
	r.reasons == ["device_state_stale"]
}

test_device_observed_at_missing_is_stale if {
	r := decide(f.with_device({"observed_at_ns": null}))
	"device_state_stale" in r.reasons
}

test_freshness_depends_on_sensitivity if {
	inp := f.with_device({"observed_at_ns": f.now - (30 * f.hour)})
	decide(inp).allow == true
	"device_state_stale" in decide(f.merge(inp, {"app": "payroll"})).reasons
	old := f.with_device({"observed_at_ns": f.now - (5 * f.day)})
	decide(f.merge(old, {"app": "wiki"})).allow == true
	"device_state_stale" in decide(old).reasons
}

# --- rule 5: ownership limits -----------------------------------------------------------------

test_device_ownership_not_allowed_byod_moderate if {
	r := decide(f.with_device({"ownership": "byod"}))
	r.allow == false
	r.reasons == ["device_ownership_not_allowed"]
}

test_byod_allowed_on_low_app if {
	r := decide(f.merge(f.with_device({"ownership": "byod"}), {"app": "wiki"}))
	r.allow == true
}

test_contractor_device_up_to_moderate if {
	decide(f.with_device({"ownership": "contractor"})).allow == true
	r := decide(f.merge(f.with_device({"ownership": "contractor"}), {"app": "payroll"}))
	r.reasons == ["device_ownership_not_allowed"]
}

test_ownership_missing_not_allowed if {
	r := decide(f.with_device({"ownership": null}))
	r.reasons == ["device_ownership_not_allowed"]
}

test_ownership_limits_are_policy_data if {
	r := decide(f.with_device({"ownership": "byod"})) with data.config.ownership_limits as {"byod": "moderate", "corporate": "high"}
	r.allow == true
}

# --- rule 6: exceptions -----------------------------------------------------------------------

test_exception_lifts_listed_reason if {
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [f.exc]}))
	r.allow == true
	r.reasons == []
	r.exception.id == "exc-1"
	r.obligations == ["exception_used"]
}

test_exception_expired_ignored if {
	e := f.merge(f.exc, {"expires_at_ns": f.now - 1})
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [e]}))
	r.allow == false
	r.reasons == ["device_not_compliant"]
	r.exception == null
	r.obligations == []
}

test_exception_other_app_ignored if {
	e := f.merge(f.exc, {"scope": {"apps": ["wiki"]}})
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [e]}))
	r.allow == false
	r.exception == null
}

test_exception_max_sensitivity_scope if {
	e := f.merge(f.exc, {"scope": {"max_sensitivity": "moderate"}})
	decide(f.build({}, {"compliant": false}, {"exceptions": [e]})).allow == true
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [e], "app": "payroll"}))
	r.allow == false
	r.exception == null
}

test_exception_of_other_identity_ignored if {
	e := f.merge(f.exc, {"identity": "mallory"})
	decide(f.build({}, {"compliant": false}, {"exceptions": [e]})).allow == false
}

test_exception_lifts_exactly_what_it_lists if {
	e := f.merge(f.exc, {"scope": {"apps": ["payroll"]}})
	r := decide(f.build({}, {"compliant": false, "encrypted": false}, {"exceptions": [e], "app": "payroll"}))
	r.allow == false
	r.reasons == ["device_not_encrypted"]
	r.exception.id == "exc-1"
}

test_exception_lifts_device_missing if {
	e := f.merge(f.exc, {"waives": ["device_missing"]})
	r := decide(f.merge(f.req, {"device_id": null, "device": null, "exceptions": [e]}))
	r.allow == true
	"exception_used" in r.obligations
}

test_exception_picks_the_one_lifting_most if {
	small := f.merge(f.exc, {"id": "a-small", "waives": ["device_not_compliant"]})
	big := f.merge(f.exc, {"id": "b-big", "waives": ["device_not_compliant", "device_not_enrolled"]})
	r := decide(f.build({}, {"compliant": false, "enrolled": false}, {"exceptions": [small, big]}))
	r.allow == true
	r.exception.id == "b-big"
}

test_exception_tie_broken_by_smallest_id if {
	one := f.merge(f.exc, {"id": "exc-b"})
	two := f.merge(f.exc, {"id": "exc-a"})
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [one, two]}))
	r.exception.id == "exc-a"
}

test_exception_not_used_when_nothing_to_lift if {
	r := decide(f.merge(f.req, {"exceptions": [f.exc]}))
	r.allow == true
	r.exception == null
	r.obligations == []
}

# --- rule 7: break-glass ----------------------------------------------------------------------

bg := {"type": "break_glass"}

window := {"opened_at_ns": f.now - f.hour, "expires_at_ns": f.now + f.hour}

test_break_glass_open_allows_without_device if {
	r := decide(f.merge(f.with_subject(bg), {"device_id": null, "device": null, "owned_devices": [], "break_glass": window, "app": "payroll"}))
	r.allow == true
	r.reasons == []
	r.obligations == ["alert"]
}

test_break_glass_inactive_without_window if {
	r := decide(f.merge(f.with_subject(bg), {"device_id": null, "device": null}))
	r.allow == false
	r.reasons == ["break_glass_inactive"]
	r.obligations == ["alert"]
}

test_break_glass_inactive_after_window if {
	w := {"opened_at_ns": f.now - (2 * f.hour), "expires_at_ns": f.now - f.hour}
	r := decide(f.merge(f.with_subject(bg), {"break_glass": w}))
	r.reasons == ["break_glass_inactive"]
}

test_break_glass_needs_active_identity if {
	r := decide(f.merge(f.with_subject({"type": "break_glass", "status": "suspended"}), {"break_glass": window}))
	r.allow == false
	"identity_not_active" in r.reasons
}

test_break_glass_window_ignored_for_other_types if {
	r := decide(f.merge(f.with_device({"compliant": false}), {"break_glass": window}))
	r.allow == false
	r.reasons == ["device_not_compliant"]
}

# --- rule 8: service identities ---------------------------------------------------------------

svc := {"type": "service"}

test_service_allowed_on_allow_service_app if {
	r := decide(f.merge(f.with_subject(svc), {"app": "ci", "device_id": null, "device": null, "owned_devices": []}))
	r.allow == true
	r.reasons == []
}

test_service_not_allowed if {
	r := decide(f.merge(f.with_subject(svc), {"device_id": null, "device": null, "owned_devices": []}))
	r.allow == false
	r.reasons == ["service_not_allowed"]
}

test_service_needs_active_identity if {
	r := decide(f.merge(f.with_subject({"type": "service", "status": "suspended"}), {"app": "ci"}))
	r.reasons == ["identity_not_active"]
}

# --- helper rules of data.tether ---------------------------------------------------------------

test_actions_and_app_action if {
	data.tether.actions == {"access", "token", "entitle", "activate"}
	data.tether.app_action with input as f.req
	not data.tether.app_action with input as f.merge(f.req, {"action": "activate"})
	data.tether.activating with input as f.merge(f.req, {"action": "activate"})
}

test_break_glass_open_bounds if {
	data.tether.break_glass_open with input as f.merge(f.req, {"break_glass": window})
	not data.tether.break_glass_open with input as f.merge(f.req, {"break_glass": {"opened_at_ns": f.now + 1, "expires_at_ns": f.now + f.hour}})
	not data.tether.break_glass_open with input as f.merge(f.req, {"break_glass": {"opened_at_ns": f.now - f.hour, "expires_at_ns": f.now}})
}

test_posture_checked_only_for_ordinary_identities_on_app_actions if {
	data.tether.posture_checked with input as f.req
	not data.tether.posture_checked with input as f.merge(f.req, {"action": "activate"})
	not data.tether.posture_checked with input as f.with_subject({"type": "service"})
	not data.tether.posture_checked with input as f.with_subject({"type": "break_glass"})
	not data.tether.posture_checked with input as f.merge(f.req, {"app": "nope"})
}

test_soft_gate_notes_and_limited if {
	inp := f.merge(f.with_subject(in_grace), {"app": "wiki", "device_id": null, "device": null, "owned_devices": []})
	data.tether.soft_gate with input as inp
	data.tether.notes == {"enrollment_pending"} with input as inp
	data.tether.limited with input as inp
	not data.tether.limited with input as f.req
}

test_exception_used_and_named if {
	inp := f.build({}, {"compliant": false}, {"exceptions": [f.exc]})
	data.tether.exception_used with input as inp
	data.tether.exception.id == "exc-1" with input as inp
	data.tether.exception == null with input as f.req
}

test_allow_and_deny if {
	data.tether.allow with input as f.req
	count(data.tether.deny) == 0 with input as f.req
	not data.tether.allow with input as f.with_device({"compliant": false})
	data.tether.deny == {"device_not_compliant"} with input as f.with_device({"compliant": false})
}

test_obligations_set if {
	data.tether.obligations == {"alert"} with input as f.with_subject({"type": "break_glass"})
	count(data.tether.obligations) == 0 with input as f.req
}
