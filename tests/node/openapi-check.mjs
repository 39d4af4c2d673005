// Validates the hub's OpenAPI document with an independent parser, then checks real answers against it.
// Usage: node openapi-check.mjs <document.json> <samples.json>
// samples: [{ method, path (the route template), status, contentType, body }], recorded by the .NET test from a real hub.
// Prints one JSON line: { valid, checked, failures: [...] }; exits 1 on any failure.
import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [documentPath, samplesPath] = process.argv.slice(2);
const document = JSON.parse(await readFile(documentPath, 'utf8'));
const samples = JSON.parse(await readFile(samplesPath, 'utf8'));
const failures = [];

try {
  await SwaggerParser.validate(structuredClone(document));
} catch (error) {
  failures.push(`document: ${error.message}`);
}

// The component schemas as one JSON Schema 2020-12 document, so $refs resolve as they do in OpenAPI 3.1.
const text = JSON.stringify(document.components?.schemas ?? {}).replaceAll('#/components/schemas/', 'openapi-components#/$defs/');
const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi-components', $defs: JSON.parse(text) });

const mediaType = value => (value ?? '').split(';')[0].trim().toLowerCase();
let checked = 0;
for (const sample of samples) {
  const where = `${sample.method} ${sample.path} -> ${sample.status}`;
  const operation = document.paths?.[sample.path]?.[sample.method.toLowerCase()];
  if (!operation) {
    failures.push(`${where}: no such operation in the document`);
    continue;
  }
  const response = operation.responses?.[String(sample.status)];
  if (!response) {
    failures.push(`${where}: status not documented (documented: ${Object.keys(operation.responses ?? {}).join(', ')})`);
    continue;
  }
  checked++;
  if (sample.body === null || sample.body === undefined) continue;
  const type = mediaType(sample.contentType);
  const content = response.content?.[type];
  if (!content) {
    failures.push(`${where}: content type ${type} not documented (documented: ${Object.keys(response.content ?? {}).join(', ') || 'none'})`);
    continue;
  }
  if (!type.endsWith('json') || !content.schema) continue;
  const schema = JSON.parse(JSON.stringify(content.schema).replaceAll('#/components/schemas/', 'openapi-components#/$defs/'));
  const validate = ajv.compile(schema);
  if (!validate(sample.body)) {
    failures.push(`${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(sample.body).slice(0, 400)}`);
  }
}

console.log(JSON.stringify({ valid: failures.length === 0, checked, failures }));
process.exit(failures.length === 0 ? 0 : 1);
