// HTTP access to the node: bearer token from sessionStorage on every request, 401 -> login.
const TOKEN_KEY = 'pacsnode.token';

export class AuthError extends Error {
  constructor(message) { super(message); this.name = 'AuthError'; }
}

export class HttpError extends Error {
  constructor(status, message) { super(message); this.name = 'HttpError'; this.status = status; }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// fetch() with the Authorization header; throws AuthError on 401 and HttpError on other failures.
export async function apiFetch(path, { method = 'GET', accept, signal, body } = {}) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (accept) headers.Accept = accept;
  const response = await fetch(path, { method, headers, signal, body, cache: 'no-store' });
  if (response.status === 401) throw new AuthError('authentication required');
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.text()).slice(0, 300); } catch { /* no body */ }
    throw new HttpError(response.status, `${response.status} ${response.statusText} ${detail}`.trim());
  }
  return response;
}

export async function getJson(path, options) {
  const response = await apiFetch(path, { accept: 'application/json, application/dicom+json', ...options });
  if (response.status === 204) return [];
  const text = await response.text();
  return text.trim() ? JSON.parse(text) : [];
}

export async function getText(path, options) {
  return (await apiFetch(path, options)).text();
}

// An image as a blob: URL (an <img src> cannot carry the Authorization header).
// The caller owns the URL and must revoke it (see BlobUrls).
export async function getImageUrl(path, { accept = 'image/png', signal } = {}) {
  const response = await apiFetch(path, { accept, signal });
  return URL.createObjectURL(await response.blob());
}

// Collects blob: URLs made for one view so they can all be revoked when the view goes away.
export class BlobUrls {
  constructor() { this.urls = new Set(); }
  add(url) { this.urls.add(url); return url; }
  revoke(url) { if (this.urls.delete(url)) URL.revokeObjectURL(url); }
  clear() { for (const url of this.urls) URL.revokeObjectURL(url); this.urls.clear(); }
}
