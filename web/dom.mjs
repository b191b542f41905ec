// Small DOM and DICOM JSON helpers.

// h('div', {class: 'x', onclick: f}, child, 'text', ...): builds elements without innerHTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// First value of a tag in a DICOM JSON object ('' when absent); person names as display text.
export function value(dataset, tag) {
  const element = dataset?.[tag];
  const v = element?.Value?.[0];
  if (v === undefined || v === null) return '';
  if (element.vr === 'PN') return personName(v.Alphabetic || '');
  return v;
}

export function values(dataset, tag) {
  return (dataset?.[tag]?.Value || []).map(String);
}

export function personName(pn) {
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = pn.split('=')[0].split('^');
  const rest = [prefix, given, middle, suffix].filter(Boolean).join(' ');
  return family && rest ? `${family}, ${rest}` : family || rest;
}

export function formatDate(da) {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : da;
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export const T = {
  StudyDate: '00080020', StudyTime: '00080030', AccessionNumber: '00080050',
  ModalitiesInStudy: '00080061', Modality: '00080060', StudyDescription: '00081030',
  SeriesDescription: '0008103E', PatientName: '00100010', PatientID: '00100020',
  PatientBirthDate: '00100030', StudyInstanceUID: '0020000D', SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018', SeriesNumber: '00200011', InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206', NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209', NumberOfFrames: '00280008', Rows: '00280010',
  Columns: '00280011',
};
