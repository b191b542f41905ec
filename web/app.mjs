// pacsnode web UI: hash routes (#/search, #/study/UID, #/worklist, #/reconciliation, #/queue,
// #/merges, #/timeline, #/outbox, #/hl7, #/status) and
// the viewer launch URL /ui/viewer?study=UID | accession=A | patient=ID.
import { AuthError, BlobUrls, HttpError, getImageUrl, getJson, getText, apiFetch, setToken, token } from './api.mjs';
import { h, value, values, personName, formatDate, formatBytes, T } from './dom.mjs';
import { Viewer, enc } from './viewer.mjs';

const main = document.getElementById('app');
const blobs = new BlobUrls();
let keyHandler = null;
let renderCount = 0;
// Undoes what the current view started (timers); route() calls it before the next view.
let viewCleanup = null;

const STUDY_FIELDS = [T.StudyDescription, T.ModalitiesInStudy, T.NumberOfStudyRelatedSeries,
  T.NumberOfStudyRelatedInstances, T.PatientBirthDate].join(',');

// ---- routing -------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

function launchParams() {
  if (!/\/viewer\/?$/.test(location.pathname) || location.hash) return null;
  const q = new URLSearchParams(location.search);
  for (const kind of ['study', 'accession', 'patient']) if (q.get(kind)) return { kind, value: q.get(kind) };
  return null;
}

async function route() {
  const mine = ++renderCount;
  blobs.clear();
  if (keyHandler) { document.removeEventListener('keydown', keyHandler); keyHandler = null; }
  if (viewCleanup) { const undo = viewCleanup; viewCleanup = null; undo(); }
  document.getElementById('logout').hidden = !token();
  const launch = launchParams();
  const { parts, params } = parseHash();
  const name = launch ? 'launch' : parts[0] || 'search';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === name);
  main.replaceChildren();
  main.dataset.view = name;
  main.dataset.state = 'loading';
  delete main.dataset.polls;
  const views = { search: searchView, study: studyView, worklist: worklistView, reconciliation: reconciliationView,
    queue: queueView, merges: mergesView, timeline: timelineView, outbox: outboxView, hl7: hl7View, status: statusView, launch: launchView };
  const view = views[name] || notFoundView;
  try {
    await view(launch || { parts, params });
    if (mine === renderCount) main.dataset.state = 'ready';
  } catch (error) {
    if (mine !== renderCount) return;
    if (error instanceof AuthError) loginView();
    else showError(error);
    main.dataset.state = error instanceof AuthError ? 'login' : 'error';
  }
}

function stale(mine) { return mine !== renderCount; }

function showError(error) {
  console.error('pacsnode UI:', error.name, error.status || '');
  main.append(h('p', { class: 'error', id: 'error-message', 'data-testid': 'error-message', role: 'alert' },
    String(error.message || error)));
}

// ---- login ---------------------------------------------------------------------------------

function loginView() {
  main.replaceChildren();
  main.dataset.view = 'login';
  const input = h('input', { id: 'token-input', 'data-testid': 'token-input', type: 'password',
    autocomplete: 'off', required: true, placeholder: 'API token', size: '48' });
  const message = h('p', { id: 'login-message', class: 'muted' },
    token() ? 'The token was not accepted. Enter another one.' : 'This node needs an API token.');
  const form = h('form', { id: 'login-form', 'data-testid': 'login-form', class: 'card narrow',
    onsubmit: async (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      try {
        await apiFetch('/dicom-web/studies?limit=1', { accept: 'application/dicom+json' });
      } catch (error) {
        if (error instanceof AuthError) {
          setToken('');
          message.textContent = 'The token was not accepted.';
          message.className = 'error';
          return;
        }
      }
      route();
    } },
  h('h1', {}, 'Sign in'), message,
  h('label', { for: 'token-input' }, 'Bearer token'), input,
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'login-submit', 'data-testid': 'login-submit', class: 'primary' }, 'Sign in')));
  main.append(form);
  input.focus();
}

document.getElementById('logout').addEventListener('click', () => { setToken(''); route(); });

// ---- study search --------------------------------------------------------------------------

const SEARCH_FIELDS = [
  { id: 'search-patient-name', param: 'name', label: 'Patient name', placeholder: 'Doe*' },
  { id: 'search-patient-id', param: 'pid', label: 'Patient ID' },
  { id: 'search-accession', param: 'acc', label: 'Accession number' },
  { id: 'search-date-from', param: 'from', label: 'Study date from', type: 'date' },
  { id: 'search-date-to', param: 'to', label: 'to', type: 'date' },
];
const MODALITIES = ['', 'CT', 'MR', 'CR', 'DX', 'US', 'XA', 'MG', 'NM', 'PT', 'RF', 'OT', 'SR'];

function qidoQuery(params) {
  const q = new URLSearchParams();
  const name = params.get('name');
  if (name) q.set('PatientName', /[*?]/.test(name) ? name : `${name}*`);
  if (params.get('pid')) q.set('PatientID', params.get('pid'));
  if (params.get('acc')) q.set('AccessionNumber', params.get('acc'));
  const from = (params.get('from') || '').replaceAll('-', '');
  const to = (params.get('to') || '').replaceAll('-', '');
  if (from || to) q.set('StudyDate', from === to ? from : `${from}-${to}`);
  if (params.get('mod')) q.set('ModalitiesInStudy', params.get('mod'));
  q.set('includefield', STUDY_FIELDS);
  q.set('limit', '100');
  return q;
}

async function searchView({ params }) {
  const mine = renderCount;
  const inputs = SEARCH_FIELDS.map((f) => h('div', { class: 'field' },
    h('label', { for: f.id }, f.label),
    h('input', { id: f.id, 'data-testid': f.id, name: f.param, type: f.type || 'text',
      placeholder: f.placeholder, value: params.get(f.param) || '' })));
  const modality = h('select', { id: 'search-modality', 'data-testid': 'search-modality', name: 'mod' },
    MODALITIES.map((m) => h('option', { value: m, selected: m === (params.get('mod') || '') }, m || 'Any')));
  const form = h('form', { id: 'search-form', class: 'card search', onsubmit: (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
    q.set('t', Date.now().toString(36));  // a new search even when the fields did not change
    location.hash = `#/search?${q}`;
  } },
  ...inputs,
  h('div', { class: 'field' }, h('label', { for: 'search-modality' }, 'Modality'), modality),
  h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'search-submit', 'data-testid': 'search-submit', class: 'primary' }, 'Search')));
  main.append(h('h1', {}, 'Studies'), form);
  const results = h('div', { id: 'search-results', 'data-testid': 'search-results', 'data-state': 'loading' }, h('p', { class: 'muted' }, 'Searching…'));
  main.append(results);
  const studies = await getJson(`/dicom-web/studies?${qidoQuery(params)}`);
  if (stale(mine)) return;
  results.replaceChildren(studyTable(studies, mine));
  results.dataset.state = 'ready';
  results.dataset.count = String(studies.length);
}

function studyTable(studies, mine) {
  if (!studies.length) return h('p', { class: 'muted', id: 'no-results' }, 'No matching studies.');
  studies.sort((a, b) => String(value(b, T.StudyDate)).localeCompare(String(value(a, T.StudyDate))));
  const rows = studies.map((s) => {
    const uid = value(s, T.StudyInstanceUID);
    const thumb = h('img', { class: 'thumb', alt: '', 'data-testid': 'study-thumbnail' });
    loadThumb(thumb, `/dicom-web/studies/${enc(uid)}/thumbnail`, mine);
    const open = () => { location.hash = `#/study/${enc(uid)}`; };
    return h('tr', { 'data-testid': 'study-row', 'data-study-uid': uid, class: 'clickable', onclick: open },
      h('td', {}, thumb),
      h('td', {}, h('a', { href: `#/study/${enc(uid)}`, 'data-testid': 'study-link' }, value(s, T.PatientName) || '(no name)')),
      h('td', {}, value(s, T.PatientID)),
      h('td', {}, formatDate(value(s, T.StudyDate))),
      h('td', { 'data-testid': 'study-accession' }, value(s, T.AccessionNumber)),
      h('td', {}, values(s, T.ModalitiesInStudy).join(', ')),
      h('td', {}, value(s, T.StudyDescription)),
      h('td', { class: 'num' }, value(s, T.NumberOfStudyRelatedSeries)),
      h('td', { class: 'num' }, value(s, T.NumberOfStudyRelatedInstances)));
  });
  return h('table', { class: 'grid', id: 'study-table' },
    h('thead', {}, h('tr', {}, ['', 'Patient', 'Patient ID', 'Date', 'Accession', 'Modality', 'Description', 'Series', 'Images'].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows));
}

async function loadThumb(img, path, mine) {
  try {
    const url = blobs.add(await getImageUrl(path, { accept: 'image/jpeg' }));
    if (stale(mine)) { blobs.revoke(url); return; }
    img.src = url;
  } catch {
    img.classList.add('missing');
  }
}

// ---- study page with viewer ----------------------------------------------------------------

async function studyView({ parts }) {
  const mine = renderCount;
  const studyUid = parts[1];
  if (!studyUid) throw new Error('no study given');
  const [studies, series] = await Promise.all([
    getJson(`/dicom-web/studies?StudyInstanceUID=${enc(studyUid)}&includefield=${STUDY_FIELDS}`),
    getJson(`/dicom-web/studies/${enc(studyUid)}/series?includefield=${T.SeriesDescription},${T.NumberOfSeriesRelatedInstances}`),
  ]);
  if (stale(mine)) return;
  const study = studies[0];
  if (!study) throw new Error('This study is not on the node.');
  series.sort((a, b) => (Number(value(a, T.SeriesNumber)) || 0) - (Number(value(b, T.SeriesNumber)) || 0));
  main.append(h('section', { id: 'study-header', class: 'card study-header', 'data-testid': 'study-header',
    'data-study-uid': studyUid, 'data-accession': value(study, T.AccessionNumber) },
  h('h1', {}, value(study, T.PatientName) || '(no name)'),
  h('dl', {},
    h('dt', {}, 'Patient ID'), h('dd', { id: 'study-patient-id' }, value(study, T.PatientID)),
    h('dt', {}, 'Birth date'), h('dd', {}, formatDate(value(study, T.PatientBirthDate))),
    h('dt', {}, 'Study date'), h('dd', {}, formatDate(value(study, T.StudyDate))),
    h('dt', {}, 'Accession'), h('dd', { id: 'study-accession' }, value(study, T.AccessionNumber)),
    h('dt', {}, 'Description'), h('dd', {}, value(study, T.StudyDescription)),
    h('dt', {}, 'Modality'), h('dd', {}, values(study, T.ModalitiesInStudy).join(', ')))));

  const viewer = new Viewer(studyUid, blobs, (error) => { if (error instanceof AuthError) loginView(); else showError(error); });
  keyHandler = (event) => viewer.onKey(event);
  document.addEventListener('keydown', keyHandler);
  const items = series.map((s) => {
    const uid = value(s, T.SeriesInstanceUID);
    const thumb = h('img', { class: 'thumb', alt: '', 'data-testid': 'series-thumbnail' });
    loadThumb(thumb, `/dicom-web/studies/${enc(studyUid)}/series/${enc(uid)}/thumbnail`, mine);
    const item = h('li', {}, h('button', { type: 'button', class: 'series', 'data-testid': 'series-item', 'data-series-uid': uid,
      onclick: async () => {
        for (const b of list.querySelectorAll('.series')) b.classList.toggle('active', b === item.firstChild);
        try { await viewer.openSeries(uid); } catch (error) { if (error instanceof AuthError) loginView(); else showError(error); }
      } },
    thumb,
    h('span', { class: 'series-text' },
      h('strong', {}, `#${value(s, T.SeriesNumber)} ${value(s, T.Modality)}`),
      h('span', {}, value(s, T.SeriesDescription)),
      h('span', { class: 'muted' }, `${value(s, T.NumberOfSeriesRelatedInstances)} images`))));
    return item;
  });
  const list = h('ul', { id: 'series-list', 'data-testid': 'series-list', class: 'series-list' }, items);
  main.append(h('div', { class: 'study-body' }, h('aside', {}, h('h2', {}, 'Series'), list), viewer.el));
  if (!series.length) viewer.setStatus('This study has no series.');
}

// ---- viewer launch URL ---------------------------------------------------------------------

async function launchView({ kind, value: wanted }) {
  const mine = renderCount;
  if (kind === 'study') return openStudy(wanted);
  const key = kind === 'accession' ? 'AccessionNumber' : 'PatientID';
  const studies = await getJson(`/dicom-web/studies?${key}=${encodeURIComponent(wanted)}&includefield=${STUDY_FIELDS}&limit=100`);
  if (stale(mine)) return;
  if (studies.length === 1) return openStudy(value(studies[0], T.StudyInstanceUID));
  main.append(h('h1', {}, kind === 'accession' ? 'Studies with this accession number' : 'Studies of this patient'));
  if (!studies.length) {
    main.append(h('p', { class: 'muted', id: 'launch-none', 'data-testid': 'launch-none' }, 'No study on this node matches the link.'));
    return;
  }
  main.append(h('p', { class: 'muted' }, 'Choose a study to open.'),
    h('div', { id: 'launch-choices', 'data-testid': 'launch-choices' }, studyTable(studies, mine)));
}

function openStudy(uid) {
  // Keep the launch URL's path but move to the study route (a reload then shows the study).
  history.replaceState(null, '', `${location.pathname}${location.search}#/study/${enc(uid)}`);
  return route();
}

// ---- reconciliation ------------------------------------------------------------------------

async function reconciliationView() {
  const mine = renderCount;
  const message = h('p', { id: 'recon-message', 'data-testid': 'recon-message', role: 'status' });
  main.append(h('h1', {}, 'Unreconciled studies'),
    h('p', { class: 'muted' }, 'Studies that arrived without a matching order. Link one to its order by the placer and/or filler order number, or, when it has no order, to its patient by Patient ID (and issuer, where two authorities use the ID): the study becomes that patient\'s.'),
    message);
  const container = h('div', { id: 'reconciliation-list', 'data-testid': 'reconciliation-list', 'data-state': 'loading' });
  main.append(container);
  const load = async () => {
    const links = await getJson('/api/reconciliation?state=unreconciled');
    if (stale(mine)) return;
    container.dataset.count = String(links.length);
    if (!links.length) {
      container.replaceChildren(h('p', { class: 'muted', id: 'recon-empty' }, 'Every study is linked to its order or its patient.'));
    } else {
      container.replaceChildren(h('table', { class: 'grid', id: 'reconciliation-table' },
        h('thead', {}, h('tr', {}, ['Study', 'Patient ID', 'Reason', 'Since', 'Link to order', 'Link to patient'].map((t) => h('th', {}, t)))),
        h('tbody', {}, links.map((link) => reconRow(link, message, load)))));
    }
    container.dataset.state = 'ready';
  };
  await load();
}

function reconRow(link, message, reload) {
  const uid = link.studyInstanceUID;
  const toOrder = linkForm(uid, 'order', [
    ['placerOrder', 'Placer order', 'recon-placer'],
    ['fillerOrder', 'Filler order', 'recon-filler'],
  ], 'Enter a placer or filler order number.', message, reload);
  const toPatient = linkForm(uid, 'patient', [
    ['patientID', 'Patient ID', 'recon-patient-id'],
    ['issuerOfPatientID', 'Issuer (optional)', 'recon-issuer'],
  ], 'Enter the Patient ID.', message, reload);
  return h('tr', { 'data-testid': 'recon-row', 'data-study-uid': uid },
    h('td', { class: 'uid' }, h('a', { href: `#/study/${enc(uid)}` }, uid)),
    h('td', {}, link.patientID),
    h('td', {}, link.reason),
    h('td', {}, link.updatedMs ? new Date(link.updatedMs).toLocaleString() : ''),
    h('td', {}, toOrder),
    h('td', {}, toPatient));
}

// A form that links the study to an order or to a patient: its fields become the query of
// POST /api/reconciliation/{study}/link (the first field is required, unless it is the order's,
// where either number will do).
function linkForm(uid, what, fields, missing, message, reload) {
  const inputs = fields.map(([name, placeholder, testid]) =>
    h('input', { name, placeholder, 'data-testid': testid, size: '12' }));
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': `recon-link-${what}` }, 'Link');
  return h('form', { class: 'inline', onsubmit: async (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const input of inputs) if (input.value.trim()) q.set(input.name, input.value.trim());
    const required = what === 'patient' ? q.has(inputs[0].name) : [...q.keys()].length > 0;
    if (!required) { setMessage(message, 'error', missing); return; }
    button.disabled = true;
    try {
      await apiFetch(`/api/reconciliation/${enc(uid)}/link?${q}`, { method: 'POST', accept: 'application/json' });
      setMessage(message, 'ok', `Linked study ${uid} to ${what} ${[...q.values()].join(' / ')}.`);
      await reload();
    } catch (error) {
      if (error instanceof AuthError) { loginView(); return; }
      setMessage(message, 'error', `Could not link study ${uid}: ${error.message}`);
      button.disabled = false;
    }
  } }, ...inputs, button);
}

// ---- reconciliation work queue -------------------------------------------------------------

const QUEUE_TITLES = {
  'unscheduled-study': 'Study without an order',
  'overdue-order': 'Order without images',
  'demographic-conflict': 'Demographic conflict',
};

function patientText(p) {
  return [p.patientID + (p.issuerOfPatientID ? ` (${p.issuerOfPatientID})` : ''), personName(p.patientName),
    formatDate(p.birthDate), p.sex].filter(Boolean).join(' · ');
}

// GET /api/reconciliation/queue: each item with its candidates, best first, the reasons for
// their scores, and the action that settles the item with that candidate.
async function queueView({ params }) {
  const mine = renderCount;
  const message = h('p', { id: 'queue-message', 'data-testid': 'queue-message', role: 'status' });
  const overdue = h('input', { id: 'queue-overdue', name: 'overdueMinutes', size: '6', value: params.get('overdueMinutes') || '60' });
  const tolerance = h('input', { id: 'queue-tolerance', name: 'birthDateToleranceDays', size: '4', value: params.get('birthDateToleranceDays') || '0' });
  const container = h('div', { id: 'queue-list', 'data-testid': 'queue-list', 'data-state': 'loading' });
  const load = async () => {
    const q = new URLSearchParams({ overdueMinutes: overdue.value.trim() || '60', birthDateToleranceDays: tolerance.value.trim() || '0' });
    const { items } = await getJson(`/api/reconciliation/queue?${q}`);
    if (stale(mine)) return;
    container.dataset.count = String(items.length);
    container.replaceChildren(...(items.length ? items.map((item) => queueItem(item, message, load))
      : [h('p', { class: 'muted', id: 'queue-empty' }, 'Nothing to reconcile.')]));
    container.dataset.state = 'ready';
  };
  main.append(h('h1', {}, 'Reconciliation work queue'),
    h('p', { class: 'muted' }, 'Studies without an order, orders whose images have not come after their scheduled time, and studies or orders whose patient demographics contradict the patient\'s. Candidates are ranked; the reasons say why.'),
    h('form', { class: 'inline', onsubmit: (event) => { event.preventDefault(); load(); } },
      h('label', { for: 'queue-overdue' }, 'Overdue after (minutes)'), overdue,
      h('label', { for: 'queue-tolerance' }, 'Birth date tolerance (days)'), tolerance,
      h('button', { type: 'submit' }, 'Refresh')),
    message, container);
  await load();
}

function queueItem(item, message, reload) {
  let subject;
  if (item.study) {
    const s = item.study;
    subject = [h('a', { href: `#/study/${enc(s.studyInstanceUID)}`, class: 'uid' }, s.studyInstanceUID),
      ` ${s.modalities} ${formatDate(s.studyDate)} · ${patientText(s.patient)}`, h('div', { class: 'muted' }, s.reason)];
  } else if (item.order) {
    const o = item.order;
    subject = [`Order ${o.placerOrder} / ${o.fillerOrder}, accession ${o.accessionNumber}, ${o.modality} scheduled ${formatDate(o.startDate)} `,
      `(${item.overdueMinutes} min ago) · ${patientText(o.patient)}`];
  } else {
    const k = item.conflict;
    subject = [k.studyInstanceUID ? `Study ${k.studyInstanceUID}` : `Order ${k.placerOrder} / ${k.fillerOrder}`,
      h('div', {}, `Index: ${patientText(k.known)}`), h('div', {}, `Arrived: ${patientText(k.arrived)}`)];
  }
  const rows = item.candidates.map((c) => h('tr', { 'data-testid': 'queue-candidate' },
    h('td', {}, String(c.score)),
    h('td', {}, c.kind === 'order' ? `Order ${c.placerOrder} / ${c.fillerOrder} (${c.accessionNumber}) · ${patientText(c.patient)}`
      : c.kind === 'study' ? `Study ${c.studyInstanceUID} · ${patientText(c.patient)}` : patientText(c.patient)),
    h('td', {}, h('ul', { class: 'reasons' }, c.reasons.map((why) => h('li', {}, why)))),
    h('td', {}, queueAction(item, c, message, reload))));
  const key = item.study ? item.study.studyInstanceUID : item.order ? item.order.fillerOrder || item.order.placerOrder : String(item.conflict.id);
  return h('section', { class: 'queue-item', 'data-testid': 'queue-item', 'data-kind': item.kind, 'data-key': key },
    h('h2', {}, QUEUE_TITLES[item.kind] || item.kind), h('div', {}, ...subject),
    rows.length ? h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Score', 'Candidate', 'Why', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
      : h('p', { class: 'muted' }, 'No candidate.'));
}

// The action that settles an item with a candidate: link, split (move the study), or resolve.
function queueAction(item, c, message, reload) {
  let label, path;
  if (item.kind === 'unscheduled-study') {
    label = 'Link';
    path = `/api/reconciliation/${enc(item.study.studyInstanceUID)}/link?${new URLSearchParams({ placerOrder: c.placerOrder, fillerOrder: c.fillerOrder })}`;
  } else if (item.kind === 'overdue-order') {
    label = 'Link';
    path = `/api/reconciliation/${enc(c.studyInstanceUID)}/link?${new URLSearchParams({ placerOrder: item.order.placerOrder, fillerOrder: item.order.fillerOrder })}`;
  } else {
    const k = item.conflict;
    const recorded = c.patient.patientID === k.known.patientID && c.patient.issuerOfPatientID === k.known.issuerOfPatientID;
    if (recorded) {
      label = 'Same person';
      path = `/api/reconciliation/conflicts/${k.id}/resolve?note=${enc('one person')}`;
    } else if (k.studyInstanceUID) {
      label = 'Move study here';
      path = `/api/reconciliation/${enc(k.studyInstanceUID)}/split?${new URLSearchParams({ patientID: c.patient.patientID, issuerOfPatientID: c.patient.issuerOfPatientID })}`;
    } else {
      return '';
    }
  }
  const button = h('button', { type: 'button', class: 'primary', 'data-testid': 'queue-action' }, label);
  button.onclick = async () => {
    button.disabled = true;
    try {
      await apiFetch(path, { method: 'POST', accept: 'application/json' });
      setMessage(message, 'ok', `${label}: done.`);
      await reload();
    } catch (error) {
      if (error instanceof AuthError) { loginView(); return; }
      setMessage(message, 'error', `${label} failed: ${error.message}`);
      button.disabled = false;
    }
  };
  return button;
}

// ---- patient merges ------------------------------------------------------------------------

// The journal, with an undo on each applied merge, and an operator's merge: a preview of what
// would move first, then the merge itself.
async function mergesView() {
  const mine = renderCount;
  const message = h('p', { id: 'merge-message', 'data-testid': 'merge-message', role: 'status' });
  const field = (name, label) => h('div', { class: 'field' }, h('label', { for: `merge-${name}` }, label),
    h('input', { id: `merge-${name}`, 'data-testid': `merge-${name}`, name, size: '14' }));
  const preview = h('div', { id: 'merge-preview', 'data-testid': 'merge-preview' });
  const query = () => {
    const q = new URLSearchParams();
    for (const name of ['priorPatientID', 'priorIssuer', 'patientID', 'issuer']) {
      const v = document.getElementById(`merge-${name}`).value.trim();
      if (v) q.set(name, v);
    }
    return q;
  };
  const apply = h('button', { type: 'button', id: 'merge-apply', 'data-testid': 'merge-apply', class: 'primary', hidden: true,
    onclick: async () => {
      apply.disabled = true;
      try {
        const merged = await (await apiFetch(`/api/patients/merge?${query()}`, { method: 'POST', accept: 'application/json' })).json();
        setMessage(message, 'ok', merged.alreadyApplied ? 'This merge was applied before: nothing moved.'
          : `Merged Patient ID ${merged.priorPatientID} into ${merged.patientID} (merge ${merged.id}).`);
        apply.hidden = true;
        preview.replaceChildren();
        await load();
      } catch (error) {
        if (error instanceof AuthError) { loginView(); return; }
        setMessage(message, 'error', `Could not merge: ${error.message}`);
      } finally { apply.disabled = false; }
    } }, 'Merge');
  const form = h('form', { id: 'merge-form', 'data-testid': 'merge-form', class: 'card search', onsubmit: async (event) => {
    event.preventDefault();
    const q = query();
    if (!q.has('priorPatientID') || !q.has('patientID')) { setMessage(message, 'error', 'Enter both Patient IDs.'); return; }
    try {
      const would = await getJson(`/api/patients/merge?${q}`);
      if (stale(mine)) return;
      preview.dataset.studies = String(would.studies.length);
      preview.replaceChildren(h('p', {}, would.alreadyApplied
        ? 'This merge was applied before: nothing would move.'
        : `Would move ${would.studies.length} stud${would.studies.length === 1 ? 'y' : 'ies'}, ${would.orders} order(s) and ${would.worklistItems} worklist item(s) from ${would.priorPatientID} to ${would.patientID}.`),
      h('ul', { class: 'uids' }, would.studies.map((uid) => h('li', { class: 'uid' }, uid))));
      apply.hidden = would.alreadyApplied;
      setMessage(message, 'ok', 'Preview ready: nothing has moved yet.');
    } catch (error) {
      if (error instanceof AuthError) { loginView(); return; }
      apply.hidden = true;
      preview.replaceChildren();
      setMessage(message, 'error', `No merge: ${error.message}`);
    }
  } },
  field('priorPatientID', 'Prior Patient ID (merged away)'), field('priorIssuer', 'Its issuer'),
  field('patientID', 'Surviving Patient ID'), field('issuer', 'Its issuer'),
  h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'merge-preview-button', 'data-testid': 'merge-preview-button' }, 'Preview'), apply));
  const journal = h('div', { id: 'merge-journal', 'data-testid': 'merge-journal', 'data-state': 'loading' });
  main.append(h('h1', {}, 'Patient merges'),
    h('p', { class: 'muted' }, 'Every merge (ADT^A40, an order for another patient, or an operator\'s) is journaled with what it changed; an undo restores it. A later merge of the same patients is undone first.'),
    message, form, preview, h('h2', {}, 'Journal'), journal);
  const load = async () => {
    const merges = await getJson('/api/patients/merges?limit=200');
    if (stale(mine)) return;
    journal.dataset.count = String(merges.length);
    journal.replaceChildren(!merges.length ? h('p', { class: 'muted', id: 'merge-empty' }, 'No merge yet.')
      : h('table', { class: 'grid', id: 'merge-table' },
        h('thead', {}, h('tr', {}, ['#', 'Merged', 'Prior patient', 'Into', 'Studies', 'By', 'State', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, merges.map((m) => h('tr', { 'data-testid': 'merge-row', 'data-merge-id': String(m.id), 'data-state': m.state },
          h('td', {}, String(m.id)),
          h('td', {}, new Date(m.mergedMs).toLocaleString()),
          h('td', {}, m.priorPatientID + (m.priorIssuer ? ` (${m.priorIssuer})` : '')),
          h('td', {}, m.patientID + (m.issuer ? ` (${m.issuer})` : '')),
          h('td', {}, String(m.studies.length)),
          h('td', {}, m.actor),
          h('td', { 'data-testid': 'merge-state' }, m.state),
          h('td', {}, m.state !== 'applied' ? '' : h('button', { type: 'button', 'data-testid': 'merge-undo', onclick: async (event) => {
            event.target.disabled = true;
            try {
              await apiFetch(`/api/patients/merges/${m.id}/undo`, { method: 'POST', accept: 'application/json' });
              setMessage(message, 'ok', `Merge ${m.id} undone.`);
              await load();
            } catch (error) {
              if (error instanceof AuthError) { loginView(); return; }
              setMessage(message, 'error', `Could not undo merge ${m.id}: ${error.message}`);
              event.target.disabled = false;
            }
          } }, 'Undo')))))));
    journal.dataset.state = 'ready';
  };
  await load();
}

// ---- order timeline ------------------------------------------------------------------------

function duration(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

async function timelineView({ params }) {
  const mine = renderCount;
  const accession = (params.get('accession') || '').trim();
  const input = h('input', { id: 'timeline-accession', 'data-testid': 'timeline-accession', name: 'accession',
    value: accession, placeholder: 'Accession number', required: true });
  const form = h('form', { id: 'timeline-form', class: 'card search', onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/timeline?${new URLSearchParams({ accession: input.value.trim(), t: Date.now().toString(36) })}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'timeline-accession' }, 'Accession number'), input),
  h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'timeline-submit', 'data-testid': 'timeline-submit', class: 'primary' }, 'Show')));
  const results = h('div', { id: 'timeline-results', 'data-testid': 'timeline-results', 'data-state': accession ? 'loading' : 'idle' });
  main.append(h('h1', {}, 'Order timeline'), form, results);
  if (!accession) return;
  let timeline;
  try {
    timeline = await getJson(`/api/timeline?accession=${enc(accession)}`);
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 404) throw error;
    results.replaceChildren(h('p', { class: 'muted', id: 'timeline-empty' }, 'No order has this accession number.'));
    results.dataset.state = 'ready';
    return;
  }
  if (stale(mine)) return;
  results.dataset.count = String(timeline.events.length);
  results.replaceChildren(
    h('p', {}, `Order ${timeline.placerOrder || '—'} / ${timeline.fillerOrder || '—'}`,
      timeline.studyInstanceUID ? [', study ', h('a', { href: `#/study/${enc(timeline.studyInstanceUID)}` }, timeline.studyInstanceUID)] : ''),
    h('table', { class: 'grid', id: 'timeline-table' },
      h('thead', {}, h('tr', {}, ['Step', 'When', 'Since the order', 'Since the step before', 'Detail'].map((t) => h('th', {}, t)))),
      h('tbody', {}, timeline.events.map((e) => h('tr', { 'data-testid': 'timeline-row', 'data-step': e.step },
        h('td', {}, e.step.replaceAll('-', ' ')),
        h('td', {}, new Date(e.atMs).toLocaleString()),
        h('td', {}, duration(e.sinceOrderMs)),
        h('td', {}, duration(e.sincePreviousMs)),
        h('td', { class: 'uid' }, e.detail))))));
  results.dataset.state = 'ready';
}

function setMessage(el, state, text) {
  el.dataset.state = state;
  el.className = state === 'ok' ? 'ok' : 'error';
  el.textContent = text;
}

// ---- outbound queue ------------------------------------------------------------------------

// The node's two outbound queues: HL7 messages to the EHR/RIS, and DICOM store-and-forward.
const QUEUES = [
  { key: 'outbox', title: 'Outbound HL7 queue', api: '/api/outbox',
    headings: ['#', 'Destination', 'Event', 'Study', 'State', 'Attempts', 'Last error', 'Detail', ''],
    cells: (i) => [h('td', { class: 'num' }, i.id), h('td', {}, i.destination), h('td', {}, i.event),
      h('td', { class: 'uid' }, i.studyInstanceUID), h('td', {}, h('span', { class: `badge ${i.state}` }, i.state)),
      h('td', { class: 'num' }, i.attempts), h('td', {}, i.lastError), h('td', { class: 'detail' }, i.detail)],
    data: (i) => ({ 'data-study-uid': i.studyInstanceUID, 'data-event': i.event }) },
  { key: 'forwarding', title: 'DICOM forwarding queue', api: '/api/forwarding',
    headings: ['#', 'Destination', 'Instance', 'State', 'Attempts', 'Last error', ''],
    cells: (i) => [h('td', { class: 'num' }, i.id), h('td', {}, i.destination),
      h('td', { class: 'uid' }, i.sopInstanceUID), h('td', {}, h('span', { class: `badge ${i.state}` }, i.state)),
      h('td', { class: 'num' }, i.attempts), h('td', {}, i.lastError)],
    data: (i) => ({ 'data-sop-uid': i.sopInstanceUID }) },
];

async function outboxView() {
  const mine = renderCount;
  for (const queue of QUEUES) {
    const message = h('p', { id: `${queue.key}-message`, 'data-testid': `${queue.key}-message`, role: 'status' });
    const container = h('div', { id: `${queue.key}-list`, 'data-testid': `${queue.key}-list`, 'data-state': 'loading' });
    main.append(h('h1', {}, queue.title), message, container);
    const load = async () => {
      const items = await getJson(queue.api);
      if (stale(mine)) return;
      container.dataset.count = String(items.length);
      if (!items.length) {
        container.replaceChildren(h('p', { class: 'muted', id: `${queue.key}-empty` }, 'Nothing has been queued.'));
      } else {
        container.replaceChildren(h('table', { class: 'grid', id: `${queue.key}-table`, 'data-testid': `${queue.key}-table` },
          h('thead', {}, h('tr', {}, queue.headings.map((t) => h('th', {}, t)))),
          h('tbody', {}, items.map((i) => queueRow(queue, i, message, load, mine)))));
      }
      container.dataset.state = 'ready';
    };
    await load();
  }
}

function queueRow(queue, i, message, reload, mine) {
  let retry = '';
  if (i.state !== 'sent') {
    retry = h('button', { type: 'button', 'data-testid': `${queue.key}-retry`, 'data-id': i.id, onclick: async () => {
      retry.disabled = true;
      try {
        const response = await apiFetch(`${queue.api}/${enc(String(i.id))}/retry`, { method: 'POST', accept: 'application/json' });
        const result = await response.json().catch(() => ({}));
        if (stale(mine)) return;
        setMessage(message, 'ok', `Item #${i.id} queued for another attempt (state ${result.state || 'pending'}).`);
      } catch (error) {
        if (error instanceof AuthError) { loginView(); return; }
        if (stale(mine)) return;
        const why = error.status === 404 ? 'it no longer exists'
          : error.status === 409 ? 'it has already been sent' : error.message;
        setMessage(message, 'error', `Could not retry item #${i.id}: ${why}.`);
      }
      try { await reload(); } catch (error) { if (error instanceof AuthError) loginView(); else showError(error); }
    } }, 'Retry');
  }
  return h('tr', { 'data-testid': `${queue.key}-row`, 'data-id': i.id, 'data-state': i.state, ...queue.data(i) },
    ...queue.cells(i), h('td', {}, retry));
}

// ---- modality worklist ---------------------------------------------------------------------

const WL = {
  RequestedProcedureDescription: '00321060', ScheduledProcedureStepSequence: '00400100',
  ScheduledStationAETitle: '00400001', StartDate: '00400002', StartTime: '00400003',
  StepDescription: '00400007', StepID: '00400009', StepStatus: '00400020',
};

function formatTime(tm) {
  const m = /^(\d{2})(\d{2})?/.exec(String(tm || ''));
  return m ? `${m[1]}:${m[2] || '00'}` : '';
}

function worklistQuery(params) {
  const q = new URLSearchParams();
  if (params.get('mod')) q.set('modality', params.get('mod'));
  if (params.get('station')) q.set('station', params.get('station'));
  const from = (params.get('from') || '').replaceAll('-', '');
  const to = (params.get('to') || '').replaceAll('-', '');
  if (from || to) q.set('date', from === to ? from : `${from}-${to}`);
  q.set('limit', '200');
  return q;
}

async function worklistView({ params }) {
  const mine = renderCount;
  const fields = [
    { id: 'worklist-station', param: 'station', label: 'Station AE title' },
    { id: 'worklist-date-from', param: 'from', label: 'Scheduled from', type: 'date' },
    { id: 'worklist-date-to', param: 'to', label: 'to', type: 'date' },
  ].map((f) => h('div', { class: 'field' },
    h('label', { for: f.id }, f.label),
    h('input', { id: f.id, 'data-testid': f.id, name: f.param, type: f.type || 'text', value: params.get(f.param) || '' })));
  const modality = h('select', { id: 'worklist-modality', 'data-testid': 'worklist-modality', name: 'mod' },
    MODALITIES.map((m) => h('option', { value: m, selected: m === (params.get('mod') || '') }, m || 'Any')));
  const form = h('form', { id: 'worklist-form', 'data-testid': 'worklist-form', class: 'card search', onsubmit: (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
    q.set('t', Date.now().toString(36));
    location.hash = `#/worklist?${q}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'worklist-modality' }, 'Modality'), modality),
  ...fields,
  h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'worklist-submit', 'data-testid': 'worklist-submit', class: 'primary' }, 'Filter')));
  const results = h('div', { id: 'worklist-results', 'data-testid': 'worklist-results', 'data-state': 'loading' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Modality worklist'), form, results);
  const items = await getJson(`/api/worklist?${worklistQuery(params)}`);
  if (stale(mine)) return;
  results.dataset.count = String(items.length);
  if (!items.length) {
    results.replaceChildren(h('p', { class: 'muted', id: 'worklist-empty', 'data-testid': 'worklist-empty' }, 'No scheduled procedure steps match.'));
  } else {
    const step = (i) => i?.[WL.ScheduledProcedureStepSequence]?.Value?.[0] || {};
    const when = (i) => `${value(step(i), WL.StartDate)}${value(step(i), WL.StartTime)}`;
    items.sort((a, b) => when(a).localeCompare(when(b)));
    results.replaceChildren(h('table', { class: 'grid', id: 'worklist-table', 'data-testid': 'worklist-table' },
      h('thead', {}, h('tr', {}, ['Scheduled', 'Patient', 'Patient ID', 'Accession', 'Modality', 'Station', 'Procedure', 'Step ID', 'Step', 'Status'].map((t) => h('th', {}, t)))),
      h('tbody', {}, items.map((i) => {
        const sps = step(i);
        const status = String(value(sps, WL.StepStatus));
        return h('tr', { 'data-testid': 'worklist-row', 'data-accession': value(i, T.AccessionNumber),
          'data-study-uid': value(i, T.StudyInstanceUID), 'data-modality': value(sps, T.Modality) },
        h('td', {}, `${formatDate(value(sps, WL.StartDate))} ${formatTime(value(sps, WL.StartTime))}`.trim()),
        h('td', {}, value(i, T.PatientName)),
        h('td', {}, value(i, T.PatientID)),
        h('td', { 'data-testid': 'worklist-accession' }, value(i, T.AccessionNumber)),
        h('td', { 'data-testid': 'worklist-modality-cell' }, value(sps, T.Modality)),
        h('td', {}, value(sps, WL.ScheduledStationAETitle)),
        h('td', {}, value(i, WL.RequestedProcedureDescription)),
        h('td', {}, value(sps, WL.StepID)),
        h('td', {}, value(sps, WL.StepDescription)),
        h('td', {}, status ? h('span', { class: `badge ${status.toLowerCase()}` }, status) : ''));
      }))));
  }
  results.dataset.state = 'ready';
}

// ---- HL7 messages --------------------------------------------------------------------------

// A refused message kept as a dead letter: its text to read and fix (PUT, audited), then a
// replay (POST) that handles it again and shows the new acknowledgement.
function deadLetter(m) {
  const status = h('p', { role: 'status', 'data-testid': 'dead-letter-status' });
  const text = h('textarea', { rows: '8', cols: '70', 'data-testid': 'dead-letter-text', spellcheck: 'false' });
  const path = `/api/hl7/messages/${m.id}`;
  const act = (label, fn) => h('button', { type: 'button', 'data-testid': `dead-letter-${label.toLowerCase()}`, onclick: async () => {
    try { await fn(); } catch (error) {
      if (error instanceof AuthError) { loginView(); return; }
      setMessage(status, 'error', `${label} failed: ${error.message}`);
    }
  } }, label);
  const save = act('Save', async () => {
    await apiFetch(`${path}/message`, { method: 'PUT', body: text.value, accept: 'application/json' });
    setMessage(status, 'ok', 'Saved (recorded in the audit).');
  });
  const replay = act('Replay', async () => {
    const answer = await (await apiFetch(`${path}/replay`, { method: 'POST', accept: 'application/json' })).json();
    setMessage(status, answer.ackCode === 'AA' ? 'ok' : 'error', `Replayed: ${answer.ackCode}`);
  });
  return h('details', { 'data-testid': 'dead-letter', ontoggle: async (event) => {
    if (!event.target.open || text.value) return;
    text.value = await getText(`${path}/message`);
  } }, h('summary', {}, 'Read, fix, replay'), text, h('div', {}, save, replay), status);
}

async function hl7View({ params }) {
  const mine = renderCount;
  const controlId = (params.get('controlId') || '').trim();
  const input = h('input', { id: 'hl7-control-id', 'data-testid': 'hl7-control-id', name: 'controlId',
    value: controlId, placeholder: 'MSH-10' });
  const form = h('form', { id: 'hl7-form', 'data-testid': 'hl7-form', class: 'card search', onsubmit: (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (input.value.trim()) q.set('controlId', input.value.trim());
    q.set('t', Date.now().toString(36));
    location.hash = `#/hl7?${q}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'hl7-control-id' }, 'Message control ID'), input),
  h('div', { class: 'field actions' },
    h('button', { type: 'submit', id: 'hl7-submit', 'data-testid': 'hl7-submit', class: 'primary' }, 'Search'),
    controlId ? h('a', { href: '#/hl7', id: 'hl7-clear' }, 'Show all') : ''));
  const results = h('div', { id: 'hl7-results', 'data-testid': 'hl7-results', 'data-state': 'loading' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Received HL7 messages'), form, results);
  const q = new URLSearchParams();
  if (controlId) q.set('controlId', controlId);
  q.set('limit', '200');
  const messages = await getJson(`/api/hl7/messages?${q}`);
  if (stale(mine)) return;
  results.dataset.count = String(messages.length);
  if (!messages.length) {
    results.replaceChildren(h('p', { class: 'muted', id: 'hl7-empty', 'data-testid': 'hl7-empty' },
      controlId ? 'No message with this control ID.' : 'No HL7 message has been received.'));
  } else {
    results.replaceChildren(h('table', { class: 'grid', id: 'hl7-table', 'data-testid': 'hl7-table' },
      h('thead', {}, h('tr', {}, ['Received', 'Sender', 'Type', 'Control ID', 'ACK', 'Acknowledgement', 'Dead letter'].map((t) => h('th', {}, t)))),
      h('tbody', {}, messages.map((m) => {
        const code = String(m.ackCode || '');
        const segments = String(m.ack || '').split(/\r\n|\r|\n/).filter(Boolean);
        return h('tr', { 'data-testid': 'hl7-row', 'data-control-id': m.controlId, 'data-ack-code': code },
          h('td', {}, m.receivedMs ? new Date(m.receivedMs).toLocaleString() : ''),
          h('td', {}, m.sender),
          h('td', { 'data-testid': 'hl7-type' }, m.messageType),
          h('td', { class: 'uid', 'data-testid': 'hl7-control' }, m.controlId),
          h('td', {}, h('span', { class: `badge ack ack-${/^[A-Z]{2}$/.test(code) ? code : 'other'}`, 'data-testid': 'hl7-ack-code', title: ACK_MEANING[code] || '' }, code || '—')),
          h('td', {}, segments.length
            ? h('details', { 'data-testid': 'hl7-ack' }, h('summary', {}, `${segments.length} segment${segments.length === 1 ? '' : 's'}`),
              h('pre', { class: 'hl7', 'data-testid': 'hl7-ack-text' }, segments.join('\n')))
            : h('span', { class: 'muted' }, 'none')),
          h('td', {}, m.state === 'dead' ? deadLetter(m) : ''));
      }))));
  }
  results.dataset.state = 'ready';
}

const ACK_MEANING = { AA: 'accepted', AE: 'error', AR: 'rejected', CA: 'commit accepted', CE: 'commit error', CR: 'commit rejected' };

// ---- status --------------------------------------------------------------------------------

export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

const STATUS_POLL_MS = 3000;
const CHART_SAMPLES = 60;
// The charts on the status page: a value per poll from the metrics (rate: per second between polls).
const CHARTS = [
  { id: 'associations-active', title: 'DICOM associations (active)', metric: 'pacsnode_dimse_associations_active', format: (v) => String(Math.round(v)) },
  { id: 'objects-rate', title: 'Objects stored per second', metric: 'pacsnode_instances_received_total', match: { outcome: 'stored' }, rate: true, format: (v) => v.toFixed(v < 10 ? 2 : 0) },
  { id: 'bytes-stored', title: 'Bytes stored (since start)', metric: 'pacsnode_stored_bytes_total', format: formatBytes },
  { id: 'free-space', title: 'Free space on the data disk', metric: 'pacsnode_storage_free_bytes', format: formatBytes },
];

function metricSum(samples, name, match = {}) {
  return samples.filter((s) => s.name === name &&
    Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

function statusRows(samples, health) {
  const sum = (name, match) => metricSum(samples, name, match);
  const has = (name) => samples.some((s) => s.name === name);
  return [
    ['health', 'Health', health.status],
    ['associations-total', 'DICOM associations (since start)', sum('pacsnode_dimse_associations_total')],
    ['associations-active', 'DICOM associations (active)', sum('pacsnode_dimse_associations_active')],
    ['objects-stored', 'Objects stored (since start)', sum('pacsnode_instances_received_total', { outcome: 'stored' })],
    ['bytes-stored', 'Bytes stored (since start)', formatBytes(sum('pacsnode_stored_bytes_total'))],
    ['free-space', 'Free space on the data disk', has('pacsnode_storage_free_bytes') ? formatBytes(sum('pacsnode_storage_free_bytes')) : ''],
    ['http-requests', 'HTTP requests', sum('pacsnode_http_requests_total')],
    ['hl7-pending', 'Outbound HL7 pending / failed', `${sum('pacsnode_queue_items', { queue: 'hl7', state: 'pending' })} / ${sum('pacsnode_queue_items', { queue: 'hl7', state: 'failed' })}`],
    ['forward-pending', 'Forwarding pending / failed', `${sum('pacsnode_queue_items', { queue: 'forwarding', state: 'pending' })} / ${sum('pacsnode_queue_items', { queue: 'forwarding', state: 'failed' })}`],
  ];
}

async function fetchStatus() {
  const [text, health] = await Promise.all([
    getText('/metrics'),
    fetch('/health', { cache: 'no-store' }).then((r) => r.json()).catch(() => ({ status: 'unreachable' })),
  ]);
  return { samples: parseMetrics(text), health, at: Date.now() };
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

// One small line chart: inline SVG, redrawn from its points ({t, v}) on every poll.
function makeChart(def) {
  const W = 300; const H = 90; const PAD = 4;
  const area = svg('path', { class: 'chart-area', d: '' });
  const line = svg('path', { class: 'chart-line', d: '', 'data-testid': 'chart-line' });
  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': def.title,
    class: 'chart-svg', 'data-testid': `chart-svg-${def.id}`, preserveAspectRatio: 'none' },
  svg('line', { class: 'chart-axis', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }), area, line);
  const current = h('span', { class: 'chart-value', 'data-testid': 'chart-value' }, '—');
  const range = h('span', { class: 'muted chart-range' }, '');
  const el = h('figure', { class: 'card chart', id: `chart-${def.id}`, 'data-testid': 'status-chart', 'data-chart': def.id, 'data-samples': '0' },
    h('figcaption', {}, h('span', {}, def.title), current), plot, range);
  const points = [];
  let previous = null;
  return {
    el,
    add(status) {
      const raw = metricSum(status.samples, def.metric, def.match);
      let v = raw;
      if (def.rate) {
        const before = previous;
        previous = { t: status.at, v: raw };
        if (!before) return;  // a rate needs two polls
        const seconds = (status.at - before.t) / 1000;
        v = seconds > 0 ? Math.max(0, raw - before.v) / seconds : 0;
      }
      points.push({ t: status.at, v });
      if (points.length > CHART_SAMPLES) points.shift();
      el.dataset.samples = String(points.length);
      current.textContent = def.format(v);
      const lo = Math.min(...points.map((p) => p.v));
      const hi = Math.max(...points.map((p) => p.v));
      const min = 0;  // from zero: a small change in a large value must not look like a cliff
      const max = hi > 0 ? hi * 1.05 : 1;
      range.textContent = `${def.format(lo)} – ${def.format(hi)} over the last ${points.length} sample${points.length === 1 ? '' : 's'}`;
      if (points.length < 2) { line.setAttribute('d', ''); area.setAttribute('d', ''); return; }
      const x = (i) => (i / (CHART_SAMPLES - 1)) * W;
      const y = (val) => H - PAD - ((val - min) / (max - min)) * (H - 2 * PAD);
      const offset = CHART_SAMPLES - points.length;  // the newest sample at the right edge
      const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i + offset).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
      line.setAttribute('d', d);
      area.setAttribute('d', `${d} L${x(CHART_SAMPLES - 1).toFixed(1)},${H} L${x(offset).toFixed(1)},${H} Z`);
    },
  };
}

async function statusView() {
  const mine = renderCount;
  const first = await fetchStatus();
  if (stale(mine)) return;
  const cells = new Map();
  const table = h('table', { class: 'grid narrow', id: 'status-table', 'data-testid': 'status-table' },
    h('tbody', {}, statusRows(first.samples, first.health).map(([id, label, v]) => {
      const td = h('td', { class: 'num' }, v);
      cells.set(id, td);
      return h('tr', { 'data-metric': id }, h('th', {}, label), td);
    })));
  const charts = CHARTS.map(makeChart);
  const note = h('p', { class: 'muted', id: 'status-polling', 'data-testid': 'status-polling' },
    `Updated every ${STATUS_POLL_MS / 1000} s while this page is open (last ${CHART_SAMPLES} samples).`);
  main.append(h('h1', {}, 'Status'), h('div', { class: 'status-layout' }, table,
    h('section', { id: 'status-charts', 'data-testid': 'status-charts', class: 'charts' }, charts.map((c) => c.el))), note);
  const update = (status) => {
    for (const [id, , v] of statusRows(status.samples, status.health)) {
      const td = cells.get(id);
      if (td && td.textContent !== String(v)) td.textContent = v;
    }
    for (const c of charts) c.add(status);
    main.dataset.polls = String(Number(main.dataset.polls || 0) + 1);
  };
  main.dataset.polls = '0';
  update(first);
  let timer = null;
  let busy = false;
  const poll = async () => {
    if (stale(mine)) { stop(); return; }
    if (busy) return;
    busy = true;
    try {
      const status = await fetchStatus();
      if (!stale(mine)) { update(status); note.classList.remove('error'); }
    } catch (error) {
      if (stale(mine)) return;
      if (error instanceof AuthError) { stop(); loginView(); return; }
      note.classList.add('error');
      note.textContent = `Could not read the metrics: ${error.message}`;
    } finally {
      busy = false;
    }
  };
  const stop = () => { if (timer !== null) { clearInterval(timer); timer = null; } };
  timer = setInterval(poll, STATUS_POLL_MS);
  viewCleanup = stop;
}

async function notFoundView() { main.append(h('p', { class: 'error' }, 'No such page.'), h('a', { href: '#/search' }, 'Search studies')); }

window.addEventListener('hashchange', route);
route();
