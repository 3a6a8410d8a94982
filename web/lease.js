// Cross-tab leases (the worker's; web/worker.js imports it). One tab at a time works on a
// persisted store: it holds the store's Web Lock (`agentdb:<name>`) across its requests until
// another tab asks for the store (a message on BroadcastChannel `agentdb-lease:<name>`) or it
// has been idle a moment. `acquired(name)` runs each time the lock is taken (the worker
// reloads the store there if another tab committed meanwhile), so a run of requests pays for
// the lock and that check once (they cost ~0.8 ms when paid per request).
const LEASE_IDLE_MS = 300;

/** A leased runner: exclusive(name, fn) runs fn under the store's lease, one request after
 *  another whatever each outcome. keep(name) false: release as soon as nothing is pending.
 *  @param {{acquired: (name: string) => Promise<void>, keep: (name: string) => boolean}} hooks
 *  @returns {<T>(name: string, fn: () => Promise<T>) => Promise<T>} */
export function leases({ acquired, keep }) {
  const held = new Map();
  const channels = new Map();

  function channel(name) {
    if (!channels.has(name)) {
      const ch = new BroadcastChannel(`agentdb-lease:${name}`);
      ch.onmessage = () => {                // another tab wants the store: hand it over when done
        const lease = held.get(name);
        if (!lease) return;
        lease.wanted = true;
        if (lease.pending === 0) lease.release();
      };
      channels.set(name, ch);
    }
    return channels.get(name);
  }

  function take(name) {
    if (held.has(name)) return held.get(name);
    let granted, release;
    const done = new Promise((resolve) => { release = resolve; });
    const lease = { pending: 0, wanted: false, timer: null,
                    release: () => { clearTimeout(lease.timer); held.delete(name); release(); } };
    lease.tail = new Promise((resolve) => { granted = resolve; });
    held.set(name, lease);
    channel(name).postMessage("want");
    navigator.locks.request(`agentdb:${name}`, async () => {
      try {
        await acquired(name);
        granted();
      } catch (err) {
        granted(Promise.reject(err));
        lease.release();
      }
      await done;
    });
    return lease;
  }

  return function exclusive(name, fn) {
    const lease = take(name);
    clearTimeout(lease.timer);
    lease.pending++;
    const result = lease.tail.then(fn);
    lease.tail = result.catch(() => {});     // requests run one after another, whatever each outcome
    result.catch(() => {}).finally(() => {
      if (--lease.pending > 0) return;
      if (lease.wanted || !keep(name)) lease.release();
      else lease.timer = setTimeout(lease.release, LEASE_IDLE_MS);
    });
    return result;
  };
}
