#!/usr/bin/env python3
"""Lints IAM policy documents with parliament (PyPI), for tests/integration/iam.rs.

Usage: parliament_check.py POLICIES.json   where POLICIES.json is {"<name>": <policy document>}
Prints a JSON list of findings: {policy, issue, severity, title, detail, location}.

The Python API, not the CLI: parliament 1.6.4's CLI refuses `--file` when stdin is not a TTY
(CI), and its `--files` path writes each policy to /tmp/parliament.log (a debug leftover).
Findings are kept at the CLI's default threshold (LOW and above); which are acceptable, and
why, is decided by the test's allowlist, because parliament's own `ignore_locations` does not
work in 1.6.x.
"""
import json
import sys

from parliament import analyze_policy_string, enhance_finding
from parliament.cli import is_finding_filtered


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        policies = json.load(f)
    findings = []
    for name, document in sorted(policies.items()):
        policy = analyze_policy_string(json.dumps(document, indent=2), name)
        for finding in policy.findings:
            finding = enhance_finding(finding)
            if is_finding_filtered(finding, "LOW"):
                continue
            findings.append({
                "policy": name,
                "issue": finding.issue,
                "severity": finding.severity,
                "title": finding.title,
                "detail": finding.detail,
                "location": finding.location,
            })
    json.dump(findings, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
