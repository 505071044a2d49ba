// Validate an AsyncAPI document with the reference parser (@asyncapi/parser).
// Usage: node validate.mjs FILE. Prints each diagnostic as one JSON line; exits 1 on any error.
import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';

const { diagnostics } = await new Parser().parse(readFileSync(process.argv[2], 'utf8'));
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
}
process.exit(diagnostics.some((d) => d.severity === 0) ? 1 : 0);
