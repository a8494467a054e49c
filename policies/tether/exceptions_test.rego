# Unit tests for data.tether.exceptions: scope, expiry, owner and what can be waived.
package tether_test.exceptions

import rego.v1

import data.tether_test.fixtures as f

noncompliant := f.with_device({"compliant": false})

test_covers_by_app_list if {
	data.tether.exceptions.covers(f.exc) with input as f.req
	not data.tether.exceptions.covers(f.merge(f.exc, {"scope": {"apps": ["wiki"]}})) with input as f.req
}

test_covers_by_max_sensitivity if {
	data.tether.exceptions.covers(f.merge(f.exc, {"scope": {"max_sensitivity": "high"}})) with input as f.req
	not data.tether.exceptions.covers(f.merge(f.exc, {"scope": {"max_sensitivity": "low"}})) with input as f.req
}

test_covers_the_scope_shape_the_service_sends if {
	data.tether.exceptions.covers(f.merge(f.exc, {"scope": {"apps": ["email"], "max_sensitivity": null}})) with input as f.req
	data.tether.exceptions.covers(f.merge(f.exc, {"scope": {"apps": [], "max_sensitivity": "moderate"}})) with input as f.req
}

test_covers_with_apps_and_max_sensitivity_only_where_both_hold if {
	both := f.merge(f.exc, {"scope": {"apps": ["wiki", "email"], "max_sensitivity": "low"}})
	not data.tether.exceptions.covers(both) with input as f.req
	data.tether.exceptions.covers(both) with input as f.merge(f.req, {"app": "wiki"})
	not data.tether.exceptions.covers(both) with input as f.merge(f.req, {"app": "ci"})
}

test_unexpired if {
	data.tether.exceptions.unexpired(f.exc) with input as f.req
	not data.tether.exceptions.unexpired(f.merge(f.exc, {"expires_at_ns": f.now})) with input as f.req
	not data.tether.exceptions.unexpired(f.merge(f.exc, {"identity": "bob"})) with input as f.req
}

test_longer_than_the_maximum_counts_for_nothing if {
	max := data.config.max_exception_ns
	at_max := f.merge(f.exc, {"created_at_ns": f.now - f.hour, "expires_at_ns": (f.now - f.hour) + max})
	data.tether.exceptions.unexpired(at_max) with input as f.req
	over := f.merge(f.exc, {"created_at_ns": f.now - f.hour, "expires_at_ns": ((f.now - f.hour) + max) + 1})
	not data.tether.exceptions.unexpired(over) with input as f.req
	not data.tether.exceptions.chosen_id with input as f.merge(noncompliant, {"exceptions": [over]})
	not data.tether.exceptions.unexpired(f.merge(f.exc, {"created_at_ns": null})) with input as f.req
}

test_a_lowered_maximum_applies_to_existing_exceptions if {
	not data.tether.exceptions.unexpired(f.exc) with input as f.req with data.config.max_exception_ns as f.hour
	data.tether.exceptions.unexpired(f.exc) with input as f.req with data.config.max_exception_ns as 2 * f.day
}

test_lifts_raised_reasons_only if {
	e := f.merge(f.exc, {"waives": ["device_not_compliant", "device_not_enrolled"]})
	data.tether.exceptions.lifted == {"device_not_compliant"} with input as f.merge(noncompliant, {"exceptions": [e]})
}

test_non_device_codes_never_waivable if {
	e := f.merge(f.exc, {"waives": ["service_not_allowed", "identity_not_active"]})
	not data.tether.exceptions.chosen_id with input as f.merge(noncompliant, {"exceptions": [e]})
}

test_chosen_exception if {
	data.tether.exceptions.chosen.id == "exc-1" with input as f.merge(noncompliant, {"exceptions": [f.exc]})
}

test_waivable_is_device_only if {
	count(data.tether.exceptions.waivable) == 8
	"device_not_compliant" in data.tether.exceptions.waivable
	not "no_compliant_device" in data.tether.exceptions.waivable
	not "identity_not_active" in data.tether.exceptions.waivable
	not "service_not_allowed" in data.tether.exceptions.waivable
}

test_lifts_and_best if {
	e := f.merge(f.exc, {"waives": ["device_not_compliant", "device_not_enrolled"]})
	inp := f.merge(f.with_device({"compliant": false, "enrolled": false}), {"exceptions": [e]})
	data.tether.exceptions.lifts == {"exc-1": {"device_not_compliant", "device_not_enrolled"}} with input as inp
	data.tether.exceptions.best == 2 with input as inp
}
