# Unit tests for data.tether.device: gates, posture reasons, soft gate and qualifying devices.
package tether_test.device

import rego.v1

import data.tether_test.fixtures as f

test_app_sensitivity_from_catalog if {
	data.tether.device.app_sensitivity == "moderate" with input as f.req
	data.tether.device.app_sensitivity == "low" with input as f.merge(f.req, {"app": "wiki"})
}

test_admin_app_is_high if {
	data.tether.device.app_sensitivity == "high" with input as f.merge(f.req, {"app": "admin-console"})
}

test_app_without_sensitivity_is_high if {
	data.tether.device.app_sensitivity == "high" with input as f.merge(f.req, {"app": "bare"}) with data.apps.bare as {}
}

test_app_unknown_not_known if {
	not data.tether.device.app_known with input as f.merge(f.req, {"app": "nope"})
}

test_gate_raised_for_privileged if {
	data.tether.device.gate == "high" with input as f.merge(f.with_subject({"risk_tier": "privileged"}), {"app": "wiki"})
	data.tether.device.gate == "low" with input as f.merge(f.req, {"app": "wiki"})
}

test_healthy_device_has_no_posture_reasons if {
	count(data.tether.device.posture) == 0 with input as f.req
}

test_requested_needs_non_empty_id if {
	not data.tether.device.requested with input as f.merge(f.req, {"device_id": ""})
	not data.tether.device.requested with input as f.merge(f.req, {"device_id": null})
	data.tether.device.requested with input as f.req
}

test_fresh_for_levels if {
	dev := f.merge(f.mac, {"observed_at_ns": f.now - (2 * f.day)})
	data.tether.device.fresh_for(dev, "moderate") with input as f.req
	not data.tether.device.fresh_for(dev, "high") with input as f.req
}

test_fresh_for_refuses_a_check_in_further_ahead_than_the_clock_skew if {
	data.tether.device.fresh_for(f.merge(f.mac, {"observed_at_ns": f.now + (5 * f.minute)}), "high") with input as f.req
	not data.tether.device.fresh_for(f.merge(f.mac, {"observed_at_ns": (f.now + (5 * f.minute)) + 1}), "high") with input as f.req
	not data.tether.device.fresh_for(f.merge(f.mac, {"observed_at_ns": f.now + (365 * f.day)}), "low") with input as f.req
}

test_clock_skew_from_policy_data if {
	dev := f.merge(f.mac, {"observed_at_ns": f.now + f.hour})
	data.tether.device.fresh_for(dev, "high") with input as f.req with data.config.max_clock_skew_ns as 2 * f.hour
}

test_fresh_for_needs_number if {
	not data.tether.device.fresh_for(f.merge(f.mac, {"observed_at_ns": "2024-01-01T00:00:00Z"}), "low") with input as f.req
}

test_ownership_ok_by_limit if {
	data.tether.device.ownership_ok with input as f.req
	not data.tether.device.ownership_ok with input as f.with_device({"ownership": "byod"})
	not data.tether.device.ownership_ok with input as f.with_device({"ownership": "borrowed"})
}

test_in_grace if {
	data.tether.device.in_grace with input as f.with_subject({"activated_at_ns": f.now - f.hour})
	data.tether.device.in_grace with input as f.with_subject({"activated_at_ns": f.now + (5 * f.minute)})
	not data.tether.device.in_grace with input as f.with_subject({"activated_at_ns": f.now + (365 * f.day)})
	not data.tether.device.in_grace with input as f.req
	not data.tether.device.in_grace with input as f.with_subject({"activated_at_ns": null})
}

test_soft_gate_only_without_enrolled_devices if {
	inp := f.merge(f.with_subject({"activated_at_ns": f.now - f.hour}), {"app": "wiki", "owned_devices": []})
	data.tether.device.soft_gate_applies with input as inp
	unenrolled := f.merge(f.mac, {"enrolled": false})
	data.tether.device.soft_gate_applies with input as f.merge(inp, {"owned_devices": [unenrolled]})
	not data.tether.device.soft_gate_applies with input as f.merge(inp, {"owned_devices": [f.mac]})
}

test_qualifying_device if {
	data.tether.device.has_qualifying_device with input as f.req
	not data.tether.device.has_qualifying_device with input as f.with_device({"compliant": false})
	not data.tether.device.has_qualifying_device with input as f.merge(f.req, {"owned_devices": []})
}

test_qualifying_device_encryption_by_tier if {
	data.tether.device.has_qualifying_device with input as f.with_device({"encrypted": false})
	not data.tether.device.has_qualifying_device with input as f.build({"risk_tier": "high"}, {"encrypted": false}, {})
}

test_qualifying_freshness_by_tier if {
	data.tether.device.has_qualifying_device with input as f.with_device({"observed_at_ns": f.now - (2 * f.day)})
	not data.tether.device.has_qualifying_device with input as f.build({"risk_tier": "privileged"}, {"observed_at_ns": f.now - (2 * f.day)}, {})
}

test_rank_orders_sensitivities if {
	data.tether.device.rank.low < data.tether.device.rank.moderate
	data.tether.device.rank.moderate < data.tether.device.rank.high
}

test_d_is_the_requested_record if {
	data.tether.device.d.id == "mac-1" with input as f.req
	not data.tether.device.d with input as f.merge(f.req, {"device": null})
}

test_owned_enrolled_compliant_encrypted_fresh if {
	data.tether.device.owned with input as f.req
	data.tether.device.enrolled with input as f.req
	data.tether.device.compliant with input as f.req
	data.tether.device.encrypted with input as f.req
	data.tether.device.fresh with input as f.req
	not data.tether.device.owned with input as f.with_device({"owner": "bob"})
	not data.tether.device.enrolled with input as f.with_device({"enrolled": "true"})
	not data.tether.device.compliant with input as f.with_device({"compliant": false})
	not data.tether.device.encrypted with input as f.with_device({"encrypted": null})
	not data.tether.device.fresh with input as f.with_device({"observed_at_ns": f.now - (5 * f.day)})
}

test_ownership_value if {
	data.tether.device.ownership == "corporate" with input as f.req
	data.tether.device.ownership == null with input as f.with_device({"ownership": null})
}

test_has_enrolled_device if {
	data.tether.device.has_enrolled_device with input as f.req
	not data.tether.device.has_enrolled_device with input as f.merge(f.req, {"owned_devices": [f.merge(f.mac, {"enrolled": false})]})
}

test_qualifying_level if {
	data.tether.device.qualifying_level == "moderate" with input as f.req
	data.tether.device.qualifying_level == "high" with input as f.with_subject({"risk_tier": "high"})
}
