// The console's only way to the server: the public REST API, same origin, with the
// session cookie the browser sends by itself and the CSRF header this module adds.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (${status})`);
    this.status = status;
    this.code = error.code;
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)oc_csrf=([^;]+)/);
  return match ? match[1] : "";
}

let onSignedOut = () => {};
/** Called when the API says the session is gone (401). */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

/** JSON request; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { error: { message: `The server could not be reached (${error.message})` } });
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/console/")) onSignedOut();
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/**
 * Uploads a file as multipart/form-data with progress (fetch cannot report upload
 * progress; XMLHttpRequest can). onProgress gets a fraction 0..1.
 */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch { parsed = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed);
      else reject(new ApiError(xhr.status, parsed));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { error: { message: "The upload was interrupted" } })));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}
