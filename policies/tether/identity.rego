# Facts about the subject identity that decisions and lifecycle share (decision-model §1, rule 1).
# input.subject is the stored identity record (or null when the subject is unknown).
package tether.identity

import rego.v1

# The subject resolved to a stored identity.
known if input.subject.id

status := input.subject.status

active if input.subject.status == "active"

provisioned if input.subject.status == "provisioned"

# Proofing is only true when the source said so explicitly (absent = not proofed).
proofed if input.subject.proofed == true

subject_type := object.get(input.subject, "type", "employee") if known

tier := object.get(input.subject, "risk_tier", "standard") if known

# High-risk tiers get the hard device gate on every app (rule 3).
hard_gated if tier in data.config.hard_gate_tiers

is_service if subject_type == "service"

is_break_glass if subject_type == "break_glass"
