#!/usr/bin/env python3
"""Offline SAM transform of infra/template.yaml, for linting the result with cfn-lint.

`sam validate --lint` and cfn-lint check AWS::Serverless::* resources only against the SAM
schema; what SAM generates from them (roles, log configuration, state machine definitions
with their substitutions) is checked only once it is plain CloudFormation. This script does
what `sam package` + the AWS::Serverless transform would, without AWS:

- a local CodeUri becomes a placeholder S3 location (the code is not packaged here);
- a local DefinitionUri is read and inlined as Definition, so the generated state machine
  carries the real definition (with its DefinitionSubstitutions);
- samtranslator translates the template (no managed-policy lookups: the template names none).

Usage: sam_transform.py TEMPLATE [OUTPUT]   (writes JSON; OUTPUT defaults to stdout)
Exit status 1 with the translator's messages when the template does not translate.
"""

import json
import os
import sys

# Pseudo parameters (AWS::Region, AWS::Partition) come from the default region; never from AWS.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.parser.parser import Parser  # noqa: E402
from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PLACEHOLDER_BUCKET = "atlas-privatelink-offline-placeholder"


def is_local(uri):
    return isinstance(uri, str) and not uri.startswith("s3://")


def prepare(template, base_dir):
    """Replaces local code and definition locations as `sam package` would."""
    for name, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function" and is_local(props.get("CodeUri")):
            path = os.path.normpath(os.path.join(base_dir, props["CodeUri"]))
            if not os.path.isdir(path):
                raise SystemExit(f"{name}: CodeUri {props['CodeUri']} is not a directory ({path})")
            props["CodeUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{name}.zip"}
        if kind == "AWS::Serverless::StateMachine" and is_local(props.get("DefinitionUri")):
            path = os.path.normpath(os.path.join(base_dir, props.pop("DefinitionUri")))
            with open(path, encoding="utf-8") as f:
                props["Definition"] = json.load(f)
    return template


def inline_definitions(result):
    """SAM writes an inline definition as DefinitionString = Fn::Join of its JSON lines, which
    cfn-lint cannot look into; the equivalent Definition object it can (states, transitions,
    retriers, and the DefinitionSubstitutions the definition uses)."""
    for resource in (result.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        props = resource.get("Properties", {})
        joined = props.get("DefinitionString")
        if isinstance(joined, dict) and list(joined) == ["Fn::Join"]:
            separator, parts = joined["Fn::Join"]
            if all(isinstance(p, str) for p in parts):
                props["Definition"] = json.loads(separator.join(parts))
                del props["DefinitionString"]


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    source = argv[1]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    prepare(template, os.path.dirname(os.path.abspath(source)))
    translator = Translator(managed_policy_map={}, sam_parser=Parser())
    try:
        result = translator.translate(
            sam_template=template,
            parameter_values={},
            get_managed_policy_map=lambda: {},
        )
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"SAM transform: {cause.message}", file=sys.stderr)
        return 1
    inline_definitions(result)
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if len(argv) == 3:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
