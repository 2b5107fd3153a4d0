// One EventSource on /api/v1/events shared by every page that wants live updates. The
// browser reconnects by itself and sends Last-Event-ID, and the server resumes after it:
// a dropped connection loses no event.

const listeners = new Set();
const statusListeners = new Set();
let source = null;

function open() {
  source = new EventSource("/api/v1/events");
  const kinds = ["call.created", "call.updated", "call.transcript", "campaign.created", "campaign.updated"];
  for (const kind of kinds) {
    source.addEventListener(kind, (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      data.eventId = message.lastEventId;
      for (const listener of listeners) listener(data);
    });
  }
  source.addEventListener("open", () => statusListeners.forEach((l) => l("live")));
  source.addEventListener("error", () => statusListeners.forEach((l) => l(source.readyState === 2 ? "closed" : "reconnecting")));
}

/** Calls handler(event) for each event; returns the unsubscribe function. */
export function subscribe(handler, onStatus) {
  listeners.add(handler);
  if (onStatus) statusListeners.add(onStatus);
  if (!source || source.readyState === 2) open();
  else if (onStatus && source.readyState === 1) onStatus("live");
  return () => {
    listeners.delete(handler);
    if (onStatus) statusListeners.delete(onStatus);
    if (!listeners.size && source) {
      source.close();
      source = null;
    }
  };
}
