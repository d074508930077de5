#!/usr/bin/env node
// Summarise a cache-tests results file (the JSON that `npm run cli` prints).
// Not part of upstream cache-tests: proxykit's helper (bench/cache-tests/summary.mjs). It reads the
// test definitions from the suite checkout: $CACHE_TESTS_DIR, else the directory this file is in,
// else /tmp/cache-tests.
//
//   node summary.mjs results.json                 # human summary
//   node summary.mjs results.json --json          # machine-readable summary
//   node summary.mjs results.json --compare old.json   # also list tests whose outcome changed
//   node summary.mjs results.json --all           # list passing tests too
//
// Test kinds (from the test definitions, tests/*.mjs):
//   required (or no kind)  a MUST-level requirement: a failure is a conformance failure
//   optimal                a SHOULD/"optimal cache" behaviour: failure is "optional fail" (⚠️ on cache-tests.fyi)
//   check                  informational: "does the cache do X?" — Yes/No, neither is a failure
// A result is `true` (pass) or [errorName, message]: errorName 'Assertion' is a real failure,
// 'Setup' means a precondition of the test did not hold (e.g. the response that should have
// been cached was not), anything else (TypeError 'fetch failed', AbortError) is a harness/transport
// error. cache-tests.fyi additionally greys out tests whose `depends_on` did not pass
// ("dependency_fail"); that classification is shown too.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const suiteDir = [process.env.CACHE_TESTS_DIR, here, '/tmp/cache-tests']
  .find(d => d && fs.existsSync(path.join(d, 'tests/index.mjs')) && fs.existsSync(path.join(d, 'test-engine/lib/results.mjs')))
if (!suiteDir) {
  console.error('cannot find the cache-tests checkout: set CACHE_TESTS_DIR')
  process.exit(2)
}
const args = process.argv.slice(2)
const flags = new Set(args.filter(a => a.startsWith('--') && a !== '--compare'))
const positional = []
let compareFile = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--compare') compareFile = args[++i]
  else if (!args[i].startsWith('--')) positional.push(args[i])
}
if (positional.length !== 1) {
  console.error('usage: node summary.mjs <results.json> [--json] [--all] [--compare <old-results.json>]')
  process.exit(2)
}

const suites = (await import(pathToFileURL(path.join(suiteDir, 'tests/index.mjs')).href)).default
const { determineTestResult, resultTypes } = await import(pathToFileURL(path.join(suiteDir, 'test-engine/lib/results.mjs')).href)

function readResults (file) {
  const text = fs.readFileSync(file, 'utf8')
  // the CLI prints only JSON on stdout, but tolerate leading noise lines
  const start = text.indexOf('{')
  return JSON.parse(text.slice(start))
}

const results = readResults(positional[0])
const kindOf = t => t.kind === undefined ? 'required' : t.kind
const officialName = r => Object.keys(resultTypes).find(k => resultTypes[k] === r) || 'unknown'

const rows = []
for (const suite of suites) {
  for (const test of suite.tests) {
    if (test.browser_only === true) continue // never run against a proxy/CDN
    const r = results[test.id]
    const outcome = r === undefined
      ? 'untested'
      : r === true ? 'pass' : (r[0] === 'Assertion' ? 'fail' : r[0] === 'Setup' ? 'setup' : 'error')
    rows.push({
      id: test.id,
      name: test.name,
      suite: suite.id,
      kind: kindOf(test),
      outcome,
      detail: r === true || r === undefined ? '' : `${r[0]}: ${r[1]}`,
      official: r === undefined ? 'untested' : officialName(determineTestResult(suites, test.id, results, true))
    })
  }
}
const unknownIds = Object.keys(results).filter(id => !rows.some(r => r.id === id))

const kinds = ['required', 'optimal', 'check']
const byKind = Object.fromEntries(kinds.map(k => [k, rows.filter(r => r.kind === k)]))
const count = (list, pred) => list.filter(pred).length
const notPass = r => r.outcome !== 'pass'

const summary = {
  file: positional[0],
  total: rows.length,
  passed: count(rows, r => r.outcome === 'pass'),
  failedRequired: count(byKind.required, notPass),
  failedOptional: count(byKind.optimal, notPass),
  checksNo: count(byKind.check, notPass),
  untested: count(rows, r => r.outcome === 'untested'),
  byKind: Object.fromEntries(kinds.map(k => [k, {
    total: byKind[k].length,
    pass: count(byKind[k], r => r.outcome === 'pass'),
    assertion: count(byKind[k], r => r.outcome === 'fail'),
    setup: count(byKind[k], r => r.outcome === 'setup'),
    error: count(byKind[k], r => r.outcome === 'error'),
    untested: count(byKind[k], r => r.outcome === 'untested')
  }])),
  official: rows.reduce((acc, r) => { acc[r.official] = (acc[r.official] || 0) + 1; return acc }, {}),
  failures: Object.fromEntries(kinds.map(k => [k, byKind[k].filter(notPass).map(r => ({ id: r.id, name: r.name, outcome: r.outcome, detail: r.detail, official: r.official }))])),
  unknownIds
}

let changes = null
if (compareFile) {
  const old = readResults(compareFile)
  changes = rows.map(r => {
    const o = old[r.id]
    const was = o === undefined ? 'untested' : o === true ? 'pass' : 'not-pass'
    const now = r.outcome === 'untested' ? 'untested' : r.outcome === 'pass' ? 'pass' : 'not-pass'
    return was === now ? null : { id: r.id, kind: r.kind, was, now, detail: r.detail }
  }).filter(Boolean)
  summary.changes = changes
}

if (flags.has('--json')) {
  console.log(JSON.stringify(summary, null, 2))
  process.exit(0)
}

const pad = (s, n) => String(s).padEnd(n)
console.log(`cache-tests summary: ${positional[0]}`)
console.log(`  total ${summary.total}   passed ${summary.passed}   failed-required ${summary.failedRequired}   failed-optional ${summary.failedOptional}   checks-no ${summary.checksNo}${summary.untested ? `   untested ${summary.untested}` : ''}`)
console.log('')
console.log(`  ${pad('kind', 10)}${pad('total', 7)}${pad('pass', 6)}${pad('assert', 8)}${pad('setup', 7)}${pad('error', 7)}`)
for (const k of kinds) {
  const s = summary.byKind[k]
  console.log(`  ${pad(k, 10)}${pad(s.total, 7)}${pad(s.pass, 6)}${pad(s.assertion, 8)}${pad(s.setup, 7)}${pad(s.error, 7)}`)
}
console.log('  (assert = assertion failed; setup = a precondition failed, e.g. nothing was cached; error = transport/harness error such as "fetch failed")')
console.log(`  cache-tests.fyi classification (dependencies honoured): ${Object.entries(summary.official).map(([k, v]) => `${k} ${v}`).join(', ')}`)

const heading = { required: 'FAILED — required (conformance failures)', optimal: 'FAILED — optimal (optional)', check: 'CHECKS answered "no" (informational)' }
for (const k of kinds) {
  const list = summary.failures[k]
  if (!list.length) continue
  console.log('')
  console.log(`${heading[k]}: ${list.length}`)
  for (const f of list) {
    console.log(`  ${f.id}  [${f.outcome}${f.official === 'dependency_fail' ? ', dependency failed' : ''}]`)
    console.log(`      ${f.name}`)
    if (f.detail) console.log(`      -> ${f.detail}`)
  }
}
if (flags.has('--all')) {
  console.log('')
  console.log('PASSED:')
  for (const r of rows.filter(r => r.outcome === 'pass')) console.log(`  ${r.id} (${r.kind})  ${r.name}`)
}
if (changes) {
  console.log('')
  console.log(`CHANGED vs ${compareFile}: ${changes.length}`)
  for (const c of changes) console.log(`  ${c.id} (${c.kind}): ${c.was} -> ${c.now}${c.detail ? `  ${c.detail}` : ''}`)
}
if (unknownIds.length) {
  console.log('')
  console.log(`WARNING: ${unknownIds.length} result ids not in tests/index.mjs: ${unknownIds.join(', ')}`)
}
