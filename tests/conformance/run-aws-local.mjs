// Runs one of our state machine definitions with aws-local-stepfunctions (the independent
// reference implementation) and scripted task outcomes, and prints what happened as one JSON
// document. tests/integration/conformance.rs runs the same scenario in our Rust runner
// (asl-runner) and compares the two.
//
// Usage: node run-aws-local.mjs [SCENARIO_FILE]   (the scenario is read from stdin without one)
//
// Needs Node >= 22 (aws-local-stepfunctions 3). The package is looked up in
// $ASL_NODE_MODULES, else $TOOLS_DIR/node/node_modules, else <repo>/.tools/node/node_modules
// (scripts/install-tools.sh puts it there).
//
// Scenario:
// {
//   "definition": "path/to/machine.asl.json",        (relative paths: to the current directory)
//   "substitutions": {"ValidateFunctionArn": "arn:aws:lambda:…:function:atlas-privatelink-validate", …},
//   "executionName": "conformance-a",                   (becomes $$.Execution.Name)
//   "input": {…},                                       (the execution input)
//   "tasks": {                                          (scripted outcomes, see below)
//     "validate": [{"output": {…}}],
//     "verify-endpoint": [{"error": "InterfaceEndpointNotReady", "cause": "PENDING"}, {"output": {…}}],
//     "verify-endpoint@us-west-2": [{"error": "InterfaceEndpointRejected", "cause": "REJECTED"}]
//   }
// }
// A Task's step is its Resource's Lambda function name without the `atlas-privatelink-` prefix.
// The n-th call of a step gets the n-th outcome of "<step>@<region>" when the task input has
// `result.endpoint.region` and that key is scripted, else of "<step>". An outcome is either
// {"output": JSON} or {"error": NAME, "cause": TEXT}, thrown as an Error whose `name` is NAME
// (the library keeps it for Retry and Catch, like a Lambda function error type). A call past the
// end of its script fails with `Unscripted` and is listed in the result's "unscripted".
//
// Output:
// {
//   "states":     [names of the states entered, in the order the library reported them],
//   "topLevel":   [the states entered outside Map iterations, in order],
//   "iterations": {"0": [states entered in Map iteration 0, in order], …},
//   "status":     "SUCCEEDED" | "FAILED" | "TIMED_OUT",
//   "output":     the execution output (SUCCEEDED) or null,
//   "error":      the error name (FAILED) or null,
//   "cause":      the cause (FAILED) or null,
//   "calls":      {"<script key>": number of calls},
//   "unscripted": ["<script key> call <n>", …]
// }
// Waits and retry intervals take no real time (waitTimeOverrides / retryIntervalOverrides of 0
// for every Wait state and every state with a Retry field).

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const STEP_PREFIX = "atlas-privatelink-";

function fail(message) {
  process.stderr.write(`run-aws-local: ${message}\n`);
  process.exit(2);
}

function nodeModulesDir() {
  if (process.env.ASL_NODE_MODULES) return resolve(process.env.ASL_NODE_MODULES);
  if (process.env.TOOLS_DIR) return resolve(process.env.TOOLS_DIR, "node", "node_modules");
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  return join(repo, ".tools", "node", "node_modules");
}

async function loadLibrary() {
  const pkgDir = join(nodeModulesDir(), "aws-local-stepfunctions");
  let entry;
  try {
    // The package's "import" export is its ESM build ("module").
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    entry = join(pkgDir, pkg.module ?? pkg.main);
  } catch (e) {
    fail(`aws-local-stepfunctions not found at ${pkgDir} (run scripts/install-tools.sh): ${e.message}`);
  }
  return import(pathToFileURL(entry).href);
}

function readScenario() {
  const file = process.argv[2];
  const text = file ? readFileSync(file, "utf8") : readFileSync(0, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`the scenario is not JSON: ${e.message}`);
  }
}

// ${Name} → value, like CloudFormation's DefinitionSubstitutions; an unknown name is an error.
function substitute(text, substitutions) {
  return text.replace(/\$\{([^}]*)\}/g, (whole, name) => {
    if (!Object.hasOwn(substitutions, name)) fail(`no substitution for ${whole}`);
    return substitutions[name];
  });
}

// Every state of the definition, nested Map and Parallel states included: [name, state].
function allStates(machine) {
  const out = [];
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    out.push([name, state]);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) out.push(...allStates(processor));
    for (const branch of state.Branches ?? []) out.push(...allStates(branch));
  }
  return out;
}

// The state machines' completion events (Step Functions' events:putEvents integration): the
// step "putEvents", answered as EventBridge does unless a scenario scripts it.
const PUT_EVENTS = "arn:aws:states:::events:putEvents";
const PUT_EVENTS_ANSWER = { Entries: [{ EventId: "conformance" }], FailedEntryCount: 0 };

function stepOf(resource) {
  if (resource === PUT_EVENTS) return "putEvents";
  const fn = String(resource).split(":function:")[1];
  if (!fn || !fn.startsWith(STEP_PREFIX)) fail(`Task resource ${resource} is not one of our functions`);
  return fn.slice(STEP_PREFIX.length);
}

const scenario = readScenario();
const { StateMachine, ExecutionError, ExecutionTimeoutError } = await loadLibrary();

const definitionText = readFileSync(resolve(scenario.definition), "utf8");
const definition = JSON.parse(substitute(definitionText, scenario.substitutions ?? {}));
const tasks = scenario.tasks ?? {};
const calls = {};
const unscripted = [];

// The overrides are keyed by state name: every Task gets a scripted handler, every Wait and
// every Retry field a zero-length pause.
const taskResourceLocalHandlers = {};
const waitTimeOverrides = {};
const retryIntervalOverrides = {};
const resources = {};
for (const [name, state] of allStates(definition)) {
  if (state.Type === "Task") {
    if (Object.hasOwn(resources, name) && resources[name] !== state.Resource) {
      fail(`two Task states named ${name} with different resources: overrides are per name`);
    }
    resources[name] = state.Resource;
    const step = stepOf(state.Resource);
    taskResourceLocalHandlers[name] = async (input) => {
      const region = input?.result?.endpoint?.region;
      const specific = region === undefined ? undefined : `${step}@${region}`;
      const key = specific !== undefined && Object.hasOwn(tasks, specific) ? specific : step;
      if (key === "putEvents" && !Object.hasOwn(tasks, key)) return structuredClone(PUT_EVENTS_ANSWER);
      const n = calls[key] ?? 0;
      calls[key] = n + 1;
      const outcome = (tasks[key] ?? [])[n];
      if (outcome === undefined) {
        unscripted.push(`${key} call ${n + 1}`);
        const e = new Error(`no scripted outcome for call ${n + 1} of ${key}`);
        e.name = "Unscripted";
        throw e;
      }
      if (outcome.error !== undefined) {
        const e = new Error(outcome.cause ?? "");
        e.name = outcome.error;
        throw e;
      }
      return structuredClone(outcome.output);
    };
  }
  if (state.Type === "Wait") waitTimeOverrides[name] = 0;
  if (state.Retry) retryIntervalOverrides[name] = 0;
}

// Path syntax is not validated here: the library's validator (asl-validator 3) rejects JSONPath
// filters that AWS accepts, and tests/integration/asl_lint.rs lints the files separately.
const machine = new StateMachine(definition, { validationOptions: { checkPaths: false } });
const executionName = scenario.executionName ?? "conformance";
const execution = machine.run(scenario.input ?? {}, {
  overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
  context: {
    Execution: {
      Id: `arn:aws:states:us-east-1:123456789012:execution:StateMachine:${executionName}`,
      Name: executionName,
      RoleArn: "arn:aws:iam::123456789012:role/StepFunctionsLocal",
    },
  },
});

const states = [];
const topLevel = [];
const iterations = {};
const logging = (async () => {
  for await (const event of execution.eventLogs) {
    if (event.type !== "StateEntered") continue;
    states.push(event.state.name);
    if (event.index === undefined) {
      topLevel.push(event.state.name);
    } else {
      (iterations[event.index] ??= []).push(event.state.name);
    }
  }
})();

const result = { status: "SUCCEEDED", output: null, error: null, cause: null };
try {
  result.output = await execution.result;
} catch (e) {
  if (e instanceof ExecutionTimeoutError) {
    result.status = "TIMED_OUT";
  } else if (e instanceof ExecutionError) {
    result.status = "FAILED";
    result.error = e.cause?.name ?? null;
    result.cause = e.cause?.message ?? null;
  } else {
    throw e;
  }
}
await logging;

process.stdout.write(
  JSON.stringify({ states, topLevel, iterations, ...result, calls, unscripted }) + "\n",
);
