// End-to-end test of the node's FHIR R4 read API (/fhir): every resource it serves for an order that
// went through the HL7 workflow is validated against HL7's FHIR R4 JSON schema (fhir-validate.mjs),
// and the links between them are followed. Started by run-fhir.sh, which sends the order, stores the
// study and files the report; this script gets what it needs from the environment:
//   PACSNODE_URL         http://127.0.0.1:PORT (no authentication)
//   FHIR_STUDY_UID       the study's Study Instance UID
//   FHIR_SENT_SERIES     how many series / instances were sent (the node adds the report's SR to
//   FHIR_SENT_INSTANCES  the study: the ImagingStudy must hold what DICOMweb lists)
// The order: placer PL-FHIR-1, filler FL-FHIR-1, accession ACC-FHIR-1, patient PAT-FHIR-1.
// Prints each resource's verdict; on a failure the resource, the schema's errors (first 10) and
// exits 1.
import { validate } from './fhir-validate.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) { console.error(`fhir: ${name} is not set`); process.exit(2); }
  return v;
};
const BASE = env('PACSNODE_URL');
const FHIR = `${BASE}/fhir`;
const STUDY_UID = env('FHIR_STUDY_UID');
const SENT_SERIES = Number(env('FHIR_SENT_SERIES'));
const SENT_INSTANCES = Number(env('FHIR_SENT_INSTANCES'));
const PLACER = 'PL-FHIR-1';
const FILLER = 'FL-FHIR-1';
const ACCESSION = 'ACC-FHIR-1';
const PATIENT_ID = 'PAT-FHIR-1';
const SR_CLASS = '1.2.840.10008.5.1.4.1.1.88.11';  // the report's Basic Text SR

const failures = [];
let checks = 0;
function check(condition, what, detail) {
  checks++;
  if (condition) return true;
  failures.push(what);
  console.log(`fhir: FAIL ${what}${detail === undefined ? '' : `\n      ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  return false;
}
const show = (resource) => JSON.stringify(resource, null, 2).split('\n').slice(0, 200).join('\n');

// Elements R4 requires (1..1) that are primitives: HL7's JSON schema cannot make them required
// (the value may come as `_name` with extensions only), so they are checked here.
const REQUIRED_PRIMITIVES = {
  CapabilityStatement: ['status', 'date', 'kind', 'fhirVersion', 'format'],
  ImagingStudy: ['status'],
  'ImagingStudy.series': ['uid'],
  'ImagingStudy.series.instance': ['uid'],
  Bundle: ['type'],
  ServiceRequest: ['status', 'intent'],
  DiagnosticReport: ['status'],
  Endpoint: ['status', 'address'],
  OperationOutcome: [],
  'OperationOutcome.issue': ['severity', 'code'],
};
function missingPrimitives(resource) {
  const missing = [];
  const need = (object, where, key) => {
    for (const name of REQUIRED_PRIMITIVES[key] || []) {
      if (object?.[name] === undefined && object?.[`_${name}`] === undefined) missing.push(`${where}${name}`);
    }
  };
  need(resource, '/', resource.resourceType);
  if (resource.resourceType === 'ImagingStudy') {
    (resource.series || []).forEach((s, i) => {
      need(s, `/series/${i}/`, 'ImagingStudy.series');
      (s.instance || []).forEach((x, j) => need(x, `/series/${i}/instance/${j}/`, 'ImagingStudy.series.instance'));
    });
  }
  if (resource.resourceType === 'OperationOutcome') {
    (resource.issue || []).forEach((x, i) => need(x, `/issue/${i}/`, 'OperationOutcome.issue'));
  }
  return missing;
}

// Validates a resource against the schema (and R4's required primitives), prints the verdict.
function validated(resource, what) {
  const { ok, errors } = validate(resource);
  const missing = resource && typeof resource === 'object' ? missingPrimitives(resource) : [];
  const good = ok && missing.length === 0;
  checks++;
  if (good) {
    console.log(`fhir: valid   ${what}`);
    return true;
  }
  failures.push(`${what} is not valid FHIR R4`);
  console.log(`fhir: INVALID ${what}`);
  for (const e of errors.slice(0, 10)) console.log(`      schema: ${e.path}: ${e.message}`);
  if (errors.length > 10) console.log(`      ... and ${errors.length - 10} more schema errors`);
  for (const m of missing) console.log(`      R4: ${m} is required (1..1)`);
  console.log(`      the resource:\n${show(resource).replace(/^/gm, '        ')}`);
  return false;
}

// GET a FHIR URL: status, Content-Type and the parsed body.
async function get(path, expectStatus = 200) {
  const url = path.startsWith('http') ? path : FHIR + path;
  const response = await fetch(url, { headers: { Accept: 'application/fhir+json' }, signal: AbortSignal.timeout(10000) });
  const text = await response.text();
  const type = response.headers.get('content-type') || '';
  check(response.status === expectStatus, `GET ${path} answers ${expectStatus}`, `it answered ${response.status}: ${text.slice(0, 500)}`);
  check(/^application\/fhir\+json\s*(;\s*charset=utf-8\s*)?$/i.test(type), `GET ${path} answers Content-Type application/fhir+json`, `it is "${type}"`);
  let body;
  try { body = JSON.parse(text); } catch (e) {
    check(false, `GET ${path} answers JSON`, `${e.message}: ${text.slice(0, 500)}`);
  }
  return { status: response.status, type, body };
}
async function dicomweb(path) {
  const response = await fetch(`${BASE}/dicom-web${path}`, { headers: { Accept: 'application/dicom+json' }, signal: AbortSignal.timeout(10000) });
  if (response.status === 204) return [];
  if (response.status !== 200) throw new Error(`GET /dicom-web${path} answered ${response.status}`);
  return response.json();
}
const first = (ds, tag) => ds?.[tag]?.Value?.[0];

// "Type/id" from a reference, checked to be of that type; undefined otherwise.
function referenced(reference, type, what) {
  const m = typeof reference === 'string' ? reference.match(/^(?:.*\/)?([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/) : null;
  if (!check(m && m[1] === type && (!reference.includes('://') || reference.startsWith(`${FHIR}/`)),
    `${what} is a reference to a ${type} ("${type}/<id>")`, `it is ${JSON.stringify(reference)}`)) return undefined;
  return m[2];
}
const identifierValues = (resource) => (resource?.identifier || []).map((i) => i?.value);
async function step(name, fn) {
  console.log(`fhir: --- ${name}`);
  try { await fn(); } catch (error) {
    check(false, `${name}: ${error.message}`);
  }
}

// What DICOMweb says the study holds (the ImagingStudy must agree).
const seriesList = await dicomweb(`/studies/${STUDY_UID}/series`);
const instanceList = await dicomweb(`/studies/${STUDY_UID}/instances`);
const seriesUids = new Set(seriesList.map((s) => first(s, '0020000E')));
const instanceUids = new Set(instanceList.map((i) => first(i, '00080018')));
const imageInstances = instanceList.filter((i) => first(i, '00080016') !== SR_CLASS);
const imageSeries = new Set(imageInstances.map((i) => first(i, '0020000E')));
check(imageSeries.size === SENT_SERIES && imageInstances.length === SENT_INSTANCES,
  `DICOMweb lists the ${SENT_SERIES} series and ${SENT_INSTANCES} images sent`, `it lists ${imageSeries.size} and ${imageInstances.length}`);
console.log(`fhir: the study holds ${seriesUids.size} series, ${instanceUids.size} instances (the report's SR among them)`);

let studyId;
let study;
let serviceRequestId;
let patientId;
let endpointId;

await step('GET /fhir/metadata: CapabilityStatement', async () => {
  const { body } = await get('/metadata');
  if (!body) return;
  validated(body, 'CapabilityStatement (/metadata)');
  check(body.resourceType === 'CapabilityStatement', 'metadata is a CapabilityStatement', body.resourceType);
  check(body.fhirVersion === '4.0.1', 'CapabilityStatement.fhirVersion is 4.0.1', body.fhirVersion);
  const types = (body.rest || []).flatMap((r) => (r.resource || []).map((x) => x.type));
  for (const t of ['ImagingStudy', 'Patient', 'ServiceRequest', 'DiagnosticReport', 'Endpoint']) {
    check(types.includes(t), `CapabilityStatement lists ${t}`, types);
  }
});

await step(`GET /fhir/ImagingStudy?identifier=${ACCESSION}: searchset with the study`, async () => {
  const { body } = await get(`/ImagingStudy?identifier=${encodeURIComponent(ACCESSION)}`);
  if (!body) return;
  validated(body, 'Bundle (ImagingStudy search)');
  check(body.resourceType === 'Bundle' && body.type === 'searchset', 'the search answers a searchset Bundle', { resourceType: body.resourceType, type: body.type });
  const studies = (body.entry || []).map((e) => e.resource).filter((r) => r?.resourceType === 'ImagingStudy');
  if (!check(studies.length === 1, 'the searchset holds exactly one ImagingStudy', `it holds ${studies.length}`)) return;
  if (body.total !== undefined) check(body.total === 1, 'Bundle.total is 1', body.total);
  [study] = studies;
  studyId = study.id;
  validated(study, `ImagingStudy/${studyId} (in the searchset)`);
  const entry = body.entry.find((e) => e.resource === study);
  check(typeof entry.fullUrl === 'string' && entry.fullUrl.endsWith(`/ImagingStudy/${studyId}`), 'the entry\'s fullUrl names the ImagingStudy', entry.fullUrl);
  check(identifierValues(study).includes(`urn:oid:${STUDY_UID}`), `ImagingStudy.identifier holds urn:oid:${STUDY_UID}`, study.identifier);
  check(identifierValues(study).includes(ACCESSION), `ImagingStudy.identifier holds the accession ${ACCESSION}`, study.identifier);
  const series = study.series || [];
  const instances = series.flatMap((s) => s.instance || []);
  check(study.numberOfSeries === seriesUids.size && series.length === seriesUids.size,
    `ImagingStudy has the study's ${seriesUids.size} series`, { numberOfSeries: study.numberOfSeries, series: series.length });
  check(study.numberOfInstances === instanceUids.size && instances.length === instanceUids.size,
    `ImagingStudy has the study's ${instanceUids.size} instances`, { numberOfInstances: study.numberOfInstances, instances: instances.length });
  check(series.every((s) => seriesUids.has(s.uid)) && instances.every((i) => instanceUids.has(i.uid)),
    'ImagingStudy\'s series and instance UIDs are the study\'s', { series: series.map((s) => s.uid) });
  for (const s of series) {
    check(s.numberOfInstances === undefined || s.numberOfInstances === (s.instance || []).length,
      `series ${s.uid}: numberOfInstances matches its instances`, { numberOfInstances: s.numberOfInstances, instances: (s.instance || []).length });
  }
  serviceRequestId = referenced(study.basedOn?.[0]?.reference, 'ServiceRequest', 'ImagingStudy.basedOn[0]');
  endpointId = referenced(study.endpoint?.[0]?.reference, 'Endpoint', 'ImagingStudy.endpoint[0]');
  patientId = referenced(study.subject?.reference, 'Patient', 'ImagingStudy.subject');
});

await step('GET /fhir/ImagingStudy/{id}: the same study', async () => {
  if (!check(studyId, 'an ImagingStudy id from the search')) return;
  const { body } = await get(`/ImagingStudy/${encodeURIComponent(studyId)}`);
  if (!body) return;
  validated(body, `ImagingStudy/${studyId}`);
  check(body.id === studyId, 'the read answers the ImagingStudy asked for', body.id);
  const strip = (r) => JSON.stringify({ ...r, meta: undefined });
  check(strip(body) === strip(study), 'the read answers the same ImagingStudy as the search');
});

await step('GET /fhir/ServiceRequest/{id} (ImagingStudy.basedOn)', async () => {
  if (!check(serviceRequestId, 'a ServiceRequest id from ImagingStudy.basedOn')) return;
  const { body } = await get(`/ServiceRequest/${encodeURIComponent(serviceRequestId)}`);
  if (!body) return;
  validated(body, `ServiceRequest/${serviceRequestId}`);
  check(body.id === serviceRequestId, 'the read answers the ServiceRequest asked for', body.id);
  const ids = identifierValues(body);
  for (const v of [PLACER, FILLER, ACCESSION]) check(ids.includes(v), `ServiceRequest.identifier holds ${v}`, body.identifier);
  if (patientId) check(body.subject?.reference?.endsWith(`Patient/${patientId}`), 'ServiceRequest.subject is the study\'s Patient', body.subject);
  const search = await get(`/ServiceRequest?identifier=${encodeURIComponent(FILLER)}`);
  if (search.body) {
    validated(search.body, 'Bundle (ServiceRequest search)');
    const found = (search.body.entry || []).map((e) => e.resource).filter((r) => r?.resourceType === 'ServiceRequest');
    check(found.length === 1 && found[0].id === serviceRequestId, `ServiceRequest?identifier=${FILLER} finds it`, found.map((r) => r.id));
  }
});

let reportId;
await step('GET /fhir/DiagnosticReport?patient= and /fhir/DiagnosticReport/{id}', async () => {
  if (!check(patientId, 'a Patient id from ImagingStudy.subject')) return;
  const { body } = await get(`/DiagnosticReport?patient=${encodeURIComponent(patientId)}`);
  if (!body) return;
  validated(body, 'Bundle (DiagnosticReport search)');
  check(body.resourceType === 'Bundle' && body.type === 'searchset', 'the search answers a searchset Bundle', { resourceType: body.resourceType, type: body.type });
  const reports = (body.entry || []).map((e) => e.resource).filter((r) => r?.resourceType === 'DiagnosticReport');
  if (!check(reports.length === 1, 'the searchset holds the one DiagnosticReport', `it holds ${reports.length}`)) return;
  reportId = reports[0].id;
  validated(reports[0], `DiagnosticReport/${reportId} (in the searchset)`);
  const read = await get(`/DiagnosticReport/${encodeURIComponent(reportId)}`);
  if (!read.body) return;
  const report = read.body;
  validated(report, `DiagnosticReport/${reportId}`);
  check(report.id === reportId, 'the read answers the DiagnosticReport asked for', report.id);
  if (studyId) check(referenced(report.imagingStudy?.[0]?.reference, 'ImagingStudy', 'DiagnosticReport.imagingStudy[0]') === studyId,
    `DiagnosticReport.imagingStudy[0] is ImagingStudy/${studyId}`, report.imagingStudy);
  if (serviceRequestId) check(referenced(report.basedOn?.[0]?.reference, 'ServiceRequest', 'DiagnosticReport.basedOn[0]') === serviceRequestId,
    `DiagnosticReport.basedOn[0] is ServiceRequest/${serviceRequestId}`, report.basedOn);
  check(report.subject?.reference?.endsWith(`Patient/${patientId}`), 'DiagnosticReport.subject is the study\'s Patient', report.subject);
  check(report.status === 'final', 'DiagnosticReport.status is final (OBR-25 F)', report.status);
  check(JSON.stringify(report).includes('No acute abnormality.') || (report.presentedForm || []).length > 0,
    'DiagnosticReport carries the report (conclusion, text or presentedForm)');
});

await step('GET /fhir/Patient/{id} (ImagingStudy.subject)', async () => {
  if (!patientId) return;
  const { body } = await get(`/Patient/${encodeURIComponent(patientId)}`);
  if (!body) return;
  validated(body, `Patient/${patientId}`);
  check(body.id === patientId, 'the read answers the Patient asked for', body.id);
  check(identifierValues(body).includes(PATIENT_ID), `Patient.identifier holds ${PATIENT_ID}`, body.identifier);
  const search = await get(`/Patient?identifier=${encodeURIComponent(PATIENT_ID)}`);
  if (search.body) {
    validated(search.body, 'Bundle (Patient search)');
    const found = (search.body.entry || []).map((e) => e.resource).filter((r) => r?.resourceType === 'Patient');
    check(found.length === 1 && found[0].id === patientId, `Patient?identifier=${PATIENT_ID} finds it`, found.map((r) => r.id));
  }
});

await step('GET /fhir/Endpoint/{id} (ImagingStudy.endpoint)', async () => {
  if (!check(endpointId, 'an Endpoint id from ImagingStudy.endpoint')) return;
  const { body } = await get(`/Endpoint/${encodeURIComponent(endpointId)}`);
  if (!body) return;
  validated(body, `Endpoint/${endpointId}`);
  check(body.id === endpointId, 'the read answers the Endpoint asked for', body.id);
  check(typeof body.address === 'string' && body.address.replace(/\/$/, '').endsWith('/dicom-web'), 'Endpoint.address ends with /dicom-web', body.address);
  check((body.connectionType?.code || '') === 'dicom-wado-rs', 'Endpoint.connectionType is dicom-wado-rs', body.connectionType);
});

await step('GET /fhir/ImagingStudy/1.2.3.999: 404 with an OperationOutcome', async () => {
  const { body } = await get('/ImagingStudy/1.2.3.999', 404);
  if (!body) return;
  validated(body, 'OperationOutcome (404)');
  check(body.resourceType === 'OperationOutcome', 'the 404 answers an OperationOutcome', body.resourceType);
});

if (failures.length) {
  console.log(`fhir: FAIL: ${failures.length} of ${checks} checks failed:`);
  for (const f of failures) console.log(`fhir:   - ${f}`);
  process.exit(1);
}
console.log(`fhir: PASS (${checks} checks)`);
