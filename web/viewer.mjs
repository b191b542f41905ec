// The image viewer: one series at a time, every frame of every instance in order, window presets,
// zoom. Images come from WADO-RS /rendered as PNG through blob: URLs.
import { getJson, getImageUrl } from './api.mjs';
import { h, value, T } from './dom.mjs';

export const PRESETS = [
  { id: 'default', label: 'Default', window: null },
  { id: 'soft', label: 'Soft tissue 40/400', window: [40, 400] },
  { id: 'lung', label: 'Lung -600/1500', window: [-600, 1500] },
  { id: 'bone', label: 'Bone 300/1500', window: [300, 1500] },
];

const ZOOM_STEP = 1.25;
const CACHE_LIMIT = 64;

export class Viewer {
  constructor(studyUid, blobs, onError) {
    this.studyUid = studyUid;
    this.blobs = blobs;
    this.onError = onError;
    this.frames = [];          // [{instance, frame|null}]
    this.index = 0;
    this.preset = PRESETS[0];
    this.zoom = 1;
    this.cache = new Map();    // key -> blob URL
    this.request = 0;
    this.el = this.render();
  }

  render() {
    this.image = h('img', { id: 'viewer-image', 'data-testid': 'viewer-image', alt: 'Rendered image',
      draggable: 'false', 'data-state': 'empty' });
    this.viewport = h('div', { id: 'viewer-viewport', class: 'viewport', tabindex: '0',
      'data-testid': 'viewer-viewport', onwheel: (e) => this.onWheel(e) }, this.image);
    this.position = h('span', { id: 'image-position', 'data-testid': 'image-position' }, '–');
    this.status = h('span', { id: 'viewer-status', class: 'muted' }, 'Choose a series.');
    this.presetButtons = PRESETS.map((p) => h('button', {
      type: 'button', class: 'preset', id: `preset-${p.id}`, 'data-testid': `preset-${p.id}`,
      'aria-pressed': p === this.preset ? 'true' : 'false', onclick: () => this.setPreset(p),
    }, p.label));
    const toolbar = h('div', { class: 'toolbar', id: 'viewer-toolbar' },
      h('button', { type: 'button', id: 'prev-image', 'data-testid': 'prev-image', title: 'Previous (↑)',
        onclick: () => this.step(-1) }, '◀ Prev'),
      this.position,
      h('button', { type: 'button', id: 'next-image', 'data-testid': 'next-image', title: 'Next (↓)',
        onclick: () => this.step(1) }, 'Next ▶'),
      h('span', { class: 'sep' }),
      ...this.presetButtons,
      h('span', { class: 'sep' }),
      h('button', { type: 'button', id: 'zoom-out', title: 'Zoom out (-)', onclick: () => this.setZoom(this.zoom / ZOOM_STEP) }, '−'),
      this.zoomLabel = h('span', { id: 'zoom-level' }, '100%'),
      h('button', { type: 'button', id: 'zoom-in', title: 'Zoom in (+)', onclick: () => this.setZoom(this.zoom * ZOOM_STEP) }, '+'),
      h('button', { type: 'button', id: 'zoom-reset', title: 'Reset zoom (0)', onclick: () => this.setZoom(1) }, 'Fit'),
    );
    return h('section', { id: 'viewer', class: 'viewer', 'data-testid': 'viewer' }, toolbar, this.viewport,
      h('div', { class: 'viewer-footer' }, this.status,
        h('span', { class: 'muted' }, 'Wheel or ↑/↓ to scroll, +/− to zoom, 1–4 for presets.')));
  }

  async openSeries(seriesUid) {
    this.seriesUid = seriesUid;
    this.clearCache();
    this.frames = [];
    this.index = 0;
    this.setStatus('Loading series…');
    const base = `/dicom-web/studies/${enc(this.studyUid)}/series/${enc(seriesUid)}`;
    const instances = await getJson(`${base}/instances?includefield=${T.InstanceNumber},${T.NumberOfFrames}`);
    if (seriesUid !== this.seriesUid) return;
    instances.sort((a, b) => (Number(value(a, T.InstanceNumber)) || 0) - (Number(value(b, T.InstanceNumber)) || 0));
    for (const instance of instances) {
      const uid = value(instance, T.SOPInstanceUID);
      const frames = Number(value(instance, T.NumberOfFrames)) || 1;
      if (frames > 1) for (let f = 1; f <= frames; f++) this.frames.push({ uid, frame: f });
      else this.frames.push({ uid, frame: null });
    }
    this.base = base;
    this.el.dataset.seriesUid = seriesUid;
    this.el.dataset.count = String(this.frames.length);
    await this.show(0);
  }

  url(i) {
    const { uid, frame } = this.frames[i];
    let path = `${this.base}/instances/${enc(uid)}` + (frame ? `/frames/${frame}/rendered` : '/rendered');
    if (this.preset.window) path += `?window=${this.preset.window[0]},${this.preset.window[1]},linear`;
    return path;
  }

  async show(i) {
    if (!this.frames.length) {
      this.position.textContent = '0 / 0';
      this.setStatus('This series has no images.');
      return;
    }
    this.index = Math.max(0, Math.min(this.frames.length - 1, i));
    this.position.textContent = `${this.index + 1} / ${this.frames.length}`;
    const request = ++this.request;
    const key = `${this.seriesUid}|${this.index}|${this.preset.id}`;
    this.image.dataset.state = 'loading';
    try {
      let url = this.cache.get(key);
      if (!url) {
        url = this.blobs.add(await getImageUrl(this.url(this.index), { accept: 'image/png' }));
        this.remember(key, url);
      }
      if (request !== this.request) return;
      await setImage(this.image, url);
      if (request !== this.request) return;
      Object.assign(this.image.dataset, { state: 'loaded', index: String(this.index), preset: this.preset.id, key });
      const f = this.frames[this.index];
      this.setStatus(`${this.image.naturalWidth}×${this.image.naturalHeight}` + (f.frame ? `, frame ${f.frame}` : ''));
    } catch (error) {
      if (request !== this.request) return;
      this.image.dataset.state = 'error';
      this.onError(error);
    }
  }

  remember(key, url) {
    this.cache.set(key, url);
    while (this.cache.size > CACHE_LIMIT) {
      const [oldKey, oldUrl] = this.cache.entries().next().value;
      if (oldUrl === this.image.getAttribute('src')) break;
      this.cache.delete(oldKey);
      this.blobs.revoke(oldUrl);
    }
  }

  clearCache() {
    for (const url of this.cache.values()) this.blobs.revoke(url);
    this.cache.clear();
  }

  step(delta) { if (this.frames.length) this.show(this.index + delta); }

  setPreset(preset) {
    this.preset = preset;
    for (const b of this.presetButtons) b.setAttribute('aria-pressed', b.id === `preset-${preset.id}` ? 'true' : 'false');
    if (this.frames.length) this.show(this.index);
  }

  setZoom(z) {
    this.zoom = Math.max(0.25, Math.min(8, z));
    this.image.style.transform = `scale(${this.zoom})`;
    this.zoomLabel.textContent = `${Math.round(this.zoom * 100)}%`;
    this.image.dataset.zoom = String(this.zoom);
  }

  onWheel(event) {
    event.preventDefault();
    if (event.ctrlKey) this.setZoom(event.deltaY < 0 ? this.zoom * ZOOM_STEP : this.zoom / ZOOM_STEP);
    else if (event.deltaY) this.step(event.deltaY > 0 ? 1 : -1);
  }

  onKey(event) {
    if (event.target.closest?.('input, select, textarea')) return;
    const keys = {
      ArrowDown: () => this.step(1), PageDown: () => this.step(1), ArrowRight: () => this.step(1),
      ArrowUp: () => this.step(-1), PageUp: () => this.step(-1), ArrowLeft: () => this.step(-1),
      Home: () => this.show(0), End: () => this.show(this.frames.length - 1),
      '+': () => this.setZoom(this.zoom * ZOOM_STEP), '=': () => this.setZoom(this.zoom * ZOOM_STEP),
      '-': () => this.setZoom(this.zoom / ZOOM_STEP), 0: () => this.setZoom(1),
    };
    PRESETS.forEach((p, n) => { keys[String(n + 1)] = () => this.setPreset(p); });
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  }

  setStatus(text) { this.status.textContent = text; }
}

function setImage(img, url) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error('the image could not be decoded'));
    img.src = url;
  });
}

export function enc(uid) { return encodeURIComponent(uid); }
