// An app embedding agentdb: the bundle is imported from wherever it is served (another path,
// another origin), opened, fed a few notes and asked about them. window.example holds what the
// page did (e2e/test_bundle.py reads it).
const params = new URLSearchParams(location.search);
const bundle = new URL(params.get("bundle") || "./agentdb-web/agentdb.js", location.href).href;
const NOTES = ["Water the tomato plants on Monday", "The flight to Tokyo was delayed by three hours",
               "The car would not start this morning"];
const QUESTIONS = ["give the vegetables a drink at the start of the week", "plane trip to japan ran late",
                   "vehicle engine failure"];
const example = { bundle, notes: NOTES, questions: QUESTIONS, state: "loading", answers: [], baseUrl: null, error: null };
window.example = example;
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };

try {
  const { AgentDB } = await import(bundle);
  example.baseUrl = AgentDB.configure(params.has("baseUrl") ? { baseUrl: params.get("baseUrl") } : {}).href;
  AgentDB.onProgress(({ stage, model }) => say(model ? `Loading ${model} (${stage})…` : `Starting agentdb (${stage})…`));
  const db = await AgentDB.open("library-example", { dim: 384 });   // all-MiniLM-L6-v2, run in agentdb's worker
  for (const note of NOTES) await db.memory.remember({ note });
  for (const question of QUESTIONS) {
    const [best] = await db.memory.recall({ query: question, k: 1 });
    example.answers.push(best);
    const row = $("answers").insertRow();
    for (const text of [question, best.text, best.similarity.toFixed(3)]) row.insertCell().textContent = text;
  }
  example.status = await db.status();
  example.state = "done";
  say(`Recalled ${QUESTIONS.length} notes by meaning with agentdb-web from ${example.baseUrl}.`);
} catch (err) {
  example.state = "failed";
  example.error = `${err.name}: ${err.message}`;
  say(`Failed: ${example.error}`);
}
