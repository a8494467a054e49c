# Decision-model matrix (decision-model.md §2-§3, policies/README.md choices): the boundaries, exact
# reason lists and mixed cases the per-package tests leave open. Each test names the rule it proves.
package tether_test.model_matrix

import rego.v1

import data.tether_test.fixtures as f

decide(inp) := r if {
	r := data.tether.decision with input as inp
}

report(inp) := r if {
	r := data.tether.lifecycle.report with input as inp
}

max_age(level) := data.config.max_age_ns[level]

grace := data.config.enrollment_grace_ns

tolerance := data.config.provisioned_tolerance_ns

skew := data.config.max_clock_skew_ns

no_device := {"device_id": null, "device": null}

# An identity with no device at all (owned nor requested) asking for the low app.
unenrolled_on_wiki(subject_fields) := f.merge(f.with_subject(subject_fields), {"app": "wiki", "device_id": null, "device": null, "owned_devices": []})

prov := {"status": "provisioned", "status_since_ns": f.now - f.day}

bg_window := {"opened_at_ns": f.now - f.hour, "expires_at_ns": f.now + f.hour}

# --- rule 1: identity; reasons when several things fail at once (README choice 2) ----------------

test_identity_unknown_exact_no_posture if {
	r := decide(f.merge(f.with_device({"compliant": false}), {"subject": null, "owned_devices": []}))
	r.allow == false
	r.reasons == ["identity_unknown"]
	r.limited == false
	r.obligations == []
	r.exception == null
	r.lifecycle == "unknown"
}

test_identity_not_active_exact_for_every_status_and_app_action if {
	every s in ["provisioned", "suspended", "deprovisioned"] {
		every a in ["access", "token", "entitle"] {
			r := decide(f.merge(f.build({"status": s}, {"compliant": false, "encrypted": false}, {}), {"action": a, "app": "payroll"}))
			r.allow == false
			r.reasons == ["identity_not_active"]
		}
	}
}

test_identity_unknown_and_app_unknown_both_reported if {
	r := decide(f.merge(f.req, {"subject": null, "owned_devices": [], "app": "no-such-app"}))
	r.reasons == ["app_unknown", "identity_unknown"]
}

test_identity_not_active_and_app_unknown_both_reported if {
	r := decide(f.merge(f.with_subject({"status": "suspended"}), {"app": "no-such-app"}))
	r.reasons == ["app_unknown", "identity_not_active"]
}

test_action_unknown_exact if {
	decide(f.merge(f.req, {"action": "delete"})).reasons == ["action_unknown"]
	decide(f.merge(f.req, {"action": "delete", "subject": null})).reasons == ["action_unknown", "identity_unknown"]
}

test_no_exception_lifts_identity_unknown if {
	e := f.merge(f.exc, {"waives": ["identity_unknown", "device_not_compliant"]})
	r := decide(f.merge(f.with_device({"compliant": false}), {"subject": null, "exceptions": [e]}))
	r.reasons == ["identity_unknown"]
	r.exception == null
	r.obligations == []
}

# --- access, token and entitle are decided by the same rules (§2 actions) -----------------------

test_token_and_entitle_apply_every_rule_of_access if {
	every a in ["token", "entitle"] {
		decide(f.merge(f.with_device({"observed_at_ns": f.now - (4 * f.day)}), {"action": a})).reasons == ["device_state_stale"]
		decide(f.merge(f.merge(f.req, no_device), {"action": a})).reasons == ["device_missing"]
		decide(f.merge(f.with_device({"ownership": "byod"}), {"action": a})).reasons == ["device_ownership_not_allowed"]
		soft := decide(f.merge(unenrolled_on_wiki({"activated_at_ns": f.now - f.hour}), {"action": a}))
		soft.allow == true
		soft.limited == true
		soft.reasons == ["enrollment_pending"]
		decide(f.merge(f.with_subject({"type": "service"}), {"action": a})).reasons == ["service_not_allowed"]
		bg := decide(f.merge(f.with_subject({"type": "break_glass"}), {"action": a}))
		bg.reasons == ["break_glass_inactive"]
		bg.obligations == ["alert"]
	}
}

# --- rule 2: activate ---------------------------------------------------------------------------

test_activate_device_fresh_at_exactly_the_moderate_max_age if {
	at := decide(f.build(prov, {"observed_at_ns": f.now - max_age("moderate")}, {"action": "activate"}))
	at.allow == true
	at.reasons == []
	past := decide(f.build(prov, {"observed_at_ns": (f.now - max_age("moderate")) - 1}, {"action": "activate"}))
	past.allow == false
	past.reasons == ["no_compliant_device"]
}

test_activate_hard_gated_tier_fresh_at_exactly_the_high_max_age if {
	s := f.merge(prov, {"risk_tier": "high"})
	decide(f.build(s, {"observed_at_ns": f.now - max_age("high")}, {"action": "activate"})).allow == true
	decide(f.build(s, {"observed_at_ns": (f.now - max_age("high")) - 1}, {"action": "activate"})).reasons == ["no_compliant_device"]
}

test_activate_ignores_app_and_ownership_limits if {
	r := decide(f.build(prov, {"ownership": "byod"}, {"action": "activate", "app": "no-such-app"}))
	r.allow == true
	r.reasons == []
}

test_activate_one_qualifying_device_among_several_is_enough if {
	bad := f.merge(f.mac, {"id": "old-1", "compliant": false})
	r := decide(f.merge(f.with_subject(prov), {"action": "activate", "owned_devices": [bad, f.mac]}))
	r.allow == true
}

test_activate_not_lifted_by_an_exception if {
	e := f.merge(f.exc, {"waives": ["device_not_compliant", "device_missing"], "scope": {"max_sensitivity": "high"}})
	r := decide(f.build(prov, {"compliant": false}, {"action": "activate", "exceptions": [e]}))
	r.allow == false
	r.reasons == ["no_compliant_device"]
	r.exception == null
	r.obligations == []
}

test_activate_every_non_provisioned_status_is_not_provisioned if {
	every s in ["active", "suspended", "deprovisioned"] {
		decide(f.build({"status": s}, {}, {"action": "activate"})).reasons == ["identity_not_provisioned"]
	}
}

# --- rule 3: gates --------------------------------------------------------------------------------

test_hard_gate_for_high_tier_on_low_app_raises_max_age_and_ownership if {
	s := {"risk_tier": "high"}
	decide(f.merge(f.build(s, {"observed_at_ns": f.now - (30 * f.hour)}, {}), {"app": "wiki"})).reasons == ["device_state_stale"]
	decide(f.merge(f.build(s, {"ownership": "byod"}, {}), {"app": "wiki"})).reasons == ["device_ownership_not_allowed"]
	decide(f.merge(f.build(s, {"ownership": "contractor"}, {}), {"app": "email"})).reasons == ["device_ownership_not_allowed"]
	decide(f.merge(f.build(s, {}, {}), {"app": "wiki"})).allow == true
}

test_hard_gated_identity_gets_no_enrollment_grace if {
	r := decide(unenrolled_on_wiki({"risk_tier": "privileged", "activated_at_ns": f.now - f.hour}))
	r.allow == false
	r.limited == false
	r.reasons == ["device_missing"]
}

test_every_device_condition_reported_at_once if {
	dev := {"owner": "mallory", "enrolled": false, "compliant": false, "encrypted": false, "ownership": "byod", "observed_at_ns": f.now - (2 * f.day)}
	r := decide(f.merge(f.with_device(dev), {"app": "payroll"}))
	r.allow == false
	r.reasons == [
		"device_not_compliant",
		"device_not_encrypted",
		"device_not_enrolled",
		"device_not_owned_by_subject",
		"device_ownership_not_allowed",
		"device_state_stale",
	]
}

test_device_unknown_alone_even_on_high_apps if {
	r := decide(f.merge(f.req, {"device_id": "ghost", "device": null, "app": "payroll"}))
	r.reasons == ["device_unknown"]
}

test_device_empty_id_is_missing if {
	decide(f.merge(f.req, {"device_id": "", "device": null})).reasons == ["device_missing"]
}

test_ownership_exactly_at_its_limit_allowed if {
	decide(f.merge(f.with_device({"ownership": "byod"}), {"app": "wiki"})).allow == true
	decide(f.merge(f.with_device({"ownership": "contractor"}), {"app": "email"})).allow == true
	decide(f.merge(f.with_device({"ownership": "corporate"}), {"app": "payroll"})).allow == true
}

test_ownership_misspelt_not_allowed if {
	decide(f.with_device({"ownership": "Corporate"})).reasons == ["device_ownership_not_allowed"]
}

# --- rule 3, low apps: the enrollment grace (README choice 6) --------------------------------------

test_enrollment_grace_includes_its_last_instant if {
	at := decide(unenrolled_on_wiki({"activated_at_ns": f.now - grace}))
	at.allow == true
	at.limited == true
	at.reasons == ["enrollment_pending"]
	at.lifecycle == "active_in_grace"
	past := decide(unenrolled_on_wiki({"activated_at_ns": (f.now - grace) - 1}))
	past.allow == false
	past.limited == false
	past.reasons == ["device_missing"]
	past.lifecycle == "active_unenrolled"
}

test_enrollment_grace_ends_with_any_enrolled_device_even_if_not_requested if {
	owned := f.merge(f.merge(f.with_subject({"activated_at_ns": f.now - f.hour}), no_device), {"app": "wiki"})
	decide(owned).reasons == ["device_missing"]
	decide(f.merge(owned, {"device_id": "ghost"})).reasons == ["device_unknown"]
}

test_enrollment_grace_with_only_unenrolled_devices if {
	s := {"activated_at_ns": f.now - f.hour}
	r := decide(f.merge(f.build(s, {"enrolled": false}, {}), {"app": "wiki"}))
	r.allow == true
	r.limited == true
	r.reasons == ["enrollment_pending"]
}

test_enrollment_grace_needs_a_trusted_activation_time if {
	decide(unenrolled_on_wiki({"activated_at_ns": null})).reasons == ["device_missing"]
	decide(unenrolled_on_wiki({"activated_at_ns": f.now + skew})).reasons == ["enrollment_pending"]
	decide(unenrolled_on_wiki({"activated_at_ns": (f.now + skew) + 1})).reasons == ["device_missing"]
}

test_no_exception_used_under_the_soft_gate if {
	e := f.merge(f.exc, {"waives": ["device_missing"], "scope": {"apps": ["wiki"]}})
	r := decide(f.merge(unenrolled_on_wiki({"activated_at_ns": f.now - f.hour}), {"exceptions": [e]}))
	r.allow == true
	r.limited == true
	r.reasons == ["enrollment_pending"]
	r.exception == null
	r.obligations == []
}

test_after_the_grace_low_apps_keep_the_low_max_age if {
	s := {"activated_at_ns": f.now - (10 * f.day)}
	decide(f.merge(f.build(s, {"observed_at_ns": f.now - (5 * f.day)}, {}), {"app": "wiki"})).allow == true
	decide(f.merge(f.build(s, {"compliant": false}, {}), {"app": "wiki"})).reasons == ["device_not_compliant"]
}

# --- rule 4: freshness ------------------------------------------------------------------------------

test_max_age_boundary_per_sensitivity if {
	every pair in [["payroll", "high"], ["email", "moderate"], ["wiki", "low"]] {
		at := decide(f.merge(f.with_device({"observed_at_ns": f.now - max_age(pair[1])}), {"app": pair[0]}))
		at.allow == true
		at.reasons == []
		past := decide(f.merge(f.with_device({"observed_at_ns": (f.now - max_age(pair[1])) - 1}), {"app": pair[0]}))
		past.allow == false
		past.reasons == ["device_state_stale"]
	}
}

test_admin_app_uses_the_high_max_age if {
	r := decide(f.merge(f.with_device({"observed_at_ns": f.now - (25 * f.hour)}), {"app": "admin-console"}))
	r.reasons == ["device_state_stale"]
}

test_check_in_ahead_of_now_beyond_the_clock_skew_is_stale if {
	decide(f.merge(f.with_device({"observed_at_ns": f.now + skew}), {"app": "payroll"})).allow == true
	r := decide(f.merge(f.with_device({"observed_at_ns": (f.now + skew) + 1}), {"app": "wiki"}))
	r.reasons == ["device_state_stale"]
}

test_non_numeric_observed_at_is_stale if {
	decide(f.with_device({"observed_at_ns": "2023-11-14T22:13:20Z"})).reasons == ["device_state_stale"]
}

test_stale_and_not_compliant_both_reported if {
	r := decide(f.with_device({"compliant": false, "observed_at_ns": f.now - (4 * f.day)}))
	r.reasons == ["device_not_compliant", "device_state_stale"]
}

# --- rule 6: exceptions -------------------------------------------------------------------------------

# A request raising exactly one waivable reason, per code.
raising := {
	"device_missing": f.merge(f.req, no_device),
	"device_unknown": f.merge(f.req, {"device_id": "ghost", "device": null}),
	"device_not_owned_by_subject": f.with_device({"owner": "mallory"}),
	"device_not_enrolled": f.with_device({"enrolled": false}),
	"device_not_compliant": f.with_device({"compliant": false}),
	"device_not_encrypted": f.merge(f.with_device({"encrypted": false}), {"app": "payroll"}),
	"device_state_stale": f.with_device({"observed_at_ns": f.now - (4 * f.day)}),
	"device_ownership_not_allowed": f.with_device({"ownership": "byod"}),
}

test_exception_lifts_each_waivable_reason if {
	count(raising) == count(data.tether.exceptions.waivable)
	every code, inp in raising {
		decide(inp).reasons == [code]
		e := f.merge(f.exc, {"waives": [code], "scope": {"max_sensitivity": "high"}})
		r := decide(f.merge(inp, {"exceptions": [e]}))
		r.allow == true
		r.reasons == []
		r.exception == e
		r.obligations == ["exception_used"]
	}
}

test_exception_named_with_exception_used_even_when_other_reasons_still_deny if {
	r := decide(f.build({}, {"compliant": false, "observed_at_ns": f.now - (4 * f.day)}, {"exceptions": [f.exc]}))
	r.allow == false
	r.reasons == ["device_state_stale"]
	r.exception == f.exc
	r.obligations == ["exception_used"]
}

test_exception_expires_at_its_expires_at if {
	last := decide(f.build({}, {"compliant": false}, {"exceptions": [f.merge(f.exc, {"expires_at_ns": f.now + 1})]}))
	last.allow == true
	last.exception.id == "exc-1"
	at := decide(f.build({}, {"compliant": false}, {"exceptions": [f.merge(f.exc, {"expires_at_ns": f.now})]}))
	at.allow == false
	at.reasons == ["device_not_compliant"]
	at.exception == null
	at.obligations == []
}

test_exception_waiving_only_unraised_reasons_is_not_named if {
	e := f.merge(f.exc, {"waives": ["device_not_enrolled"]})
	r := decide(f.build({}, {"compliant": false}, {"exceptions": [e]}))
	r.reasons == ["device_not_compliant"]
	r.exception == null
	r.obligations == []
}

test_exception_scope_admin_app_counts_as_high if {
	moderate := f.merge(f.exc, {"scope": {"max_sensitivity": "moderate"}})
	r := decide(f.build({}, {"compliant": false}, {"app": "admin-console", "exceptions": [moderate]}))
	r.reasons == ["device_not_compliant"]
	r.exception == null
	high := f.merge(f.exc, {"scope": {"max_sensitivity": "high"}})
	decide(f.build({}, {"compliant": false}, {"app": "admin-console", "exceptions": [high]})).allow == true
}

test_exception_never_lifts_non_device_reasons if {
	e := f.merge(f.exc, {"waives": ["service_not_allowed", "break_glass_inactive", "app_unknown", "device_missing"], "scope": {"max_sensitivity": "high"}})
	svc := decide(f.merge(f.with_subject({"type": "service"}), {"exceptions": [e]}))
	svc.reasons == ["service_not_allowed"]
	svc.exception == null
	bg := decide(f.merge(f.with_subject({"type": "break_glass"}), {"exceptions": [e]}))
	bg.reasons == ["break_glass_inactive"]
	bg.exception == null
	app := decide(f.merge(f.req, {"app": "no-such-app", "exceptions": [e]}))
	app.reasons == ["app_unknown"]
	app.exception == null
}

# --- rule 7: break-glass ------------------------------------------------------------------------------

bg_req(top) := f.merge(f.merge(f.with_subject({"type": "break_glass"}), no_device), f.merge({"owned_devices": [], "app": "payroll"}, top))

test_break_glass_window_opens_at_opened_at_and_closes_at_expires_at if {
	first := decide(bg_req({"break_glass": {"opened_at_ns": f.now, "expires_at_ns": f.now + f.hour}}))
	first.allow == true
	first.reasons == []
	first.obligations == ["alert"]
	last := decide(bg_req({"break_glass": {"opened_at_ns": f.now - f.hour, "expires_at_ns": f.now + 1}}))
	last.allow == true
	closed := decide(bg_req({"break_glass": {"opened_at_ns": f.now - f.hour, "expires_at_ns": f.now}}))
	closed.allow == false
	closed.reasons == ["break_glass_inactive"]
	closed.obligations == ["alert"]
	early := decide(bg_req({"break_glass": {"opened_at_ns": f.now + 1, "expires_at_ns": f.now + f.hour}}))
	early.reasons == ["break_glass_inactive"]
}

test_break_glass_inside_window_skips_device_rules_even_with_a_bad_device if {
	dev := {"compliant": false, "enrolled": false, "encrypted": false, "ownership": "byod", "observed_at_ns": null}
	r := decide(f.merge(f.build({"type": "break_glass"}, dev, {}), {"app": "payroll", "break_glass": bg_window}))
	r.allow == true
	r.reasons == []
	r.obligations == ["alert"]
	r.lifecycle == "active_exempt"
}

test_break_glass_not_active_gets_identity_reason_and_alert if {
	r := decide(f.merge(bg_req({"break_glass": bg_window}), {"subject": f.merge(f.alice, {"type": "break_glass", "status": "suspended"})}))
	r.allow == false
	r.reasons == ["identity_not_active"]
	r.obligations == ["alert"]
}

test_break_glass_unknown_app if {
	inside := decide(bg_req({"break_glass": bg_window, "app": "no-such-app"}))
	inside.reasons == ["app_unknown"]
	inside.obligations == ["alert"]
	outside := decide(bg_req({"app": "no-such-app"}))
	outside.reasons == ["app_unknown", "break_glass_inactive"]
	outside.obligations == ["alert"]
}

# --- rule 8: service identities -------------------------------------------------------------------------

test_service_ignores_the_device_even_a_bad_one if {
	dev := {"compliant": false, "enrolled": false, "ownership": "byod", "observed_at_ns": null}
	r := decide(f.merge(f.build({"type": "service", "risk_tier": "privileged"}, dev, {}), {"app": "ci"}))
	r.allow == true
	r.reasons == []
	r.obligations == []
	r.lifecycle == "active_exempt"
}

test_service_unknown_app_only_app_unknown if {
	decide(f.merge(f.with_subject({"type": "service"}), {"app": "no-such-app"})).reasons == ["app_unknown"]
}

test_service_needs_allow_service_exactly_true if {
	decide(f.merge(f.with_subject({"type": "service"}), {"app": "ci"})).allow == true with data.apps.ci as {"sensitivity": "moderate", "allow_service": true}
	decide(f.merge(f.with_subject({"type": "service"}), {"app": "ci"})).reasons == ["service_not_allowed"] with data.apps.ci as {"sensitivity": "moderate", "allow_service": "true"}
	decide(f.merge(f.with_subject({"type": "service"}), {"app": "ci"})).reasons == ["service_not_allowed"] with data.apps.ci as {"sensitivity": "moderate", "allow_service": false}
}

# --- §3 lifecycle states ----------------------------------------------------------------------------------

test_provisioned_tolerance_boundary if {
	at := report(f.build({"status": "provisioned", "status_since_ns": f.now - tolerance}, {"compliant": false}, {}))
	at.state == "pending"
	at.drift == false
	past := report(f.build({"status": "provisioned", "status_since_ns": (f.now - tolerance) - 1}, {"compliant": false}, {}))
	past == {"state": "enrolled_not_active", "drift": true, "kind": "drift", "reasons": ["onboarding_incomplete"]}
}

test_suspended_with_an_enrolled_device_is_offboarding_drift if {
	report(f.with_subject({"status": "suspended"})) == {"state": "enrolled_not_active", "drift": true, "kind": "drift", "reasons": ["offboarding_incomplete"]}
}

test_active_unenrolled_and_noncompliant_reports if {
	report(f.merge(f.req, {"owned_devices": []})) == {"state": "active_unenrolled", "drift": true, "kind": "drift", "reasons": ["no_enrolled_device"]}
	report(f.with_device({"compliant": false})) == {"state": "active_noncompliant", "drift": true, "kind": "risk", "reasons": ["no_compliant_device"]}
}

test_non_drift_states_report_no_kind_and_no_reasons if {
	inputs := {
		"pending": f.merge(f.with_subject(prov), {"owned_devices": []}),
		"ready_for_activation": f.build(prov, {}, {}),
		"healthy": f.req,
		"offboarded": f.merge(f.with_subject({"status": "deprovisioned"}), {"owned_devices": []}),
		"suspended": f.merge(f.with_subject({"status": "suspended"}), {"owned_devices": []}),
		"active_in_grace": f.merge(f.with_subject({"activated_at_ns": f.now - f.hour}), {"owned_devices": []}),
		"active_exempt": f.with_subject({"type": "service"}),
		"unknown": f.merge(f.req, {"subject": null}),
	}
	every want, inp in inputs {
		report(inp) == {"state": want, "drift": false, "kind": null, "reasons": []}
	}
}

test_enrollment_grace_boundary_in_the_lifecycle if {
	report(f.merge(f.with_subject({"activated_at_ns": f.now - grace}), {"owned_devices": []})).state == "active_in_grace"
	report(f.merge(f.with_subject({"activated_at_ns": (f.now - grace) - 1}), {"owned_devices": []})).state == "active_unenrolled"
}

test_healthy_needs_one_compliant_fresh_enrolled_device if {
	bad := f.merge(f.mac, {"id": "bad", "compliant": false})
	old := f.merge(f.mac, {"id": "old", "observed_at_ns": f.now - (4 * f.day)})
	report(f.merge(f.req, {"owned_devices": [bad, old]})).state == "active_noncompliant"
	report(f.merge(f.req, {"owned_devices": [bad, f.mac]})).state == "healthy"
}

test_hard_gated_identity_healthy_only_with_an_encrypted_device if {
	# README choice 11: healthy uses the activation "qualifying device" (encrypted for high tiers).
	report(f.build({"risk_tier": "privileged"}, {"encrypted": false}, {})).state == "active_noncompliant"
	report(f.build({"risk_tier": "privileged"}, {}, {})).state == "healthy"
}

test_decision_carries_the_lifecycle_state if {
	decide(f.merge(f.with_subject(prov), {"owned_devices": []})).lifecycle == "pending"
	decide(f.with_subject({"status": "suspended"})).lifecycle == "enrolled_not_active"
	decide(f.merge(f.with_subject({"status": "deprovisioned"}), {"owned_devices": []})).lifecycle == "offboarded"
}

# --- activation of identities without device rules (rules 7 and 8 lift them for activate too) ---------

activate_without_device(fields) := f.merge(f.with_subject(f.merge(prov, fields)), {"action": "activate", "owned_devices": [], "device_id": null, "device": null})

test_service_identity_activated_without_a_device if {
	r := decide(activate_without_device({"type": "service", "proofed": true}))
	r.allow == true
	r.reasons == []
	r.obligations == []
	r.lifecycle == "ready_for_activation"
}

test_break_glass_identity_activated_without_a_device_with_alert if {
	r := decide(activate_without_device({"type": "break_glass", "proofed": true}))
	r.allow == true
	r.obligations == ["alert"]
	r.lifecycle == "ready_for_activation"
}

test_device_exempt_activation_still_needs_provisioned_and_proofed if {
	not_proofed := decide(activate_without_device({"type": "service", "proofed": false}))
	not_proofed.reasons == ["identity_not_proofed"]
	not_proofed.lifecycle == "pending"
	active := decide(activate_without_device({"type": "break_glass", "status": "active", "proofed": true}))
	active.reasons == ["identity_not_provisioned"]
	active.obligations == ["alert"]
}

test_employee_activation_still_needs_a_device if {
	r := decide(activate_without_device({"type": "employee", "proofed": true}))
	r.reasons == ["no_compliant_device"]
	r.lifecycle == "pending"
}
