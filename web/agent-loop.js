// The demo's agent loop (the browser twin of examples/agent_loop.py): recall the reasoning
// patterns for a task, pick the best-rated approach (exploring now and then), record the
// outcome, store the episode. Its memory is kept in IndexedDB, so a second run starts wiser.
import { AgentDB } from "./agentdb.js";

const WORLD = {   // task kind -> {approach: chance that it works}; the agent does not know these
  "parse the dates in a log file": { "regex per line": 0.35, "dateutil.parser": 0.55, "strict ISO-8601 with timezone": 0.9 },
  "fix a flaky integration test": { "add a sleep": 0.2, "retry the test": 0.4, "wait for the readiness probe": 0.9 },
  "summarise a long email thread": { "first line of each mail": 0.3, "one line per speaker": 0.85, "the last mail only": 0.25 },
  "speed up a slow SQL query": { "add an index on the join column": 0.9, "cache the result": 0.5, "rewrite in Python": 0.1 },
};
const $ = (id) => document.getElementById(id);

function random(seed) {   // mulberry32: a seeded generator, so a run can be repeated
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function choose(mem, task, kind, rand) {
  let patterns = await mem.findPatterns({ task, taskType: kind, k: 10 });
  if (patterns.length === 0) {   // first time: every approach starts at an even 0.5
    for (const approach of Object.keys(WORLD[kind])) await mem.storePattern({ taskType: kind, approach });
    patterns = await mem.findPatterns({ task, taskType: kind, k: 10 });
  }
  if (rand() < 0.1) return patterns[Math.floor(rand() * patterns.length)];
  return patterns.reduce((a, b) => (b.successRate > a.successRate ? b : a));
}

function row(cells, tag = "td") {
  const tr = document.createElement("tr");
  for (const text of cells) { const td = document.createElement(tag); td.textContent = text; tr.append(td); }
  return tr;
}

async function runLoop(steps = 200) {
  const button = $("agent-run"), bar = $("agent-progress"), table = $("agent-results");
  button.disabled = true;
  try {
    const db = await AgentDB.open("agent-loop", {
      dim: 256, metric: "cosine", persist: true, embedder: { name: "agentdb-hash-v1", dim: 256, semantic: false },
    });
    const mem = db.memory;
    const before = (await mem.stats()).memories.episode || 0;
    const rand = random(7 + before);
    const kinds = Object.keys(WORLD);
    const rates = [];
    let wins = 0;
    bar.max = steps;
    for (let step = 0; step < steps; step++) {
      const kind = kinds[step % kinds.length];
      const task = `${kind} (case ${Math.floor(rand() * 1000)})`;
      const pattern = await choose(mem, task, kind, rand);
      const success = rand() < WORLD[kind][pattern.approach];
      await mem.recordOutcome({ patternId: pattern.id, success, reward: success ? 1 : 0 });
      await mem.storeEpisode({ session: "demo", task: kind, input: task, output: success ? pattern.approach : "",
                               critique: success ? "" : `${pattern.approach} did not work`, reward: success ? 1 : 0,
                               success, latencyMs: 50 + 450 * rand() });
      wins += success;
      bar.value = step + 1;
      if ((step + 1) % 50 === 0) {
        rates.push(`${Math.round(wins * 2)}%`);
        wins = 0;
        await mem.consolidateSkills({ minAttempts: 5, minReward: 0.8 });
        $("agent-status").textContent = `Ran ${step + 1} of ${steps} tasks; success per 50: ${rates.join(", ")}`;
      }
    }
    const rows = [row(["Task", "Best approach so far", "Success rate"], "th")];
    for (const kind of kinds) {
      const [best] = await mem.patternsByType({ taskType: kind, limit: 1 });
      rows.push(row([kind, best.approach, `${Math.round(best.successRate * 100)}%`]));
    }
    table.replaceChildren(...rows);
    const total = (await mem.stats()).memories;
    $("agent-status").textContent = `Done: success per 50 tasks ${rates.join(", ")} · ` +
      `${total.episode} episodes, ${total.pattern} patterns, ${total.skill || 0} skills kept in IndexedDB.`;
  } catch (err) {
    $("agent-status").textContent = `${err.name}: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

$("agent-run").addEventListener("click", () => runLoop());
