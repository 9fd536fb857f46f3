// Realtime with TrailBase's npm client against TinyBase:
// node trailbase_realtime.mjs URL ALICE_EMAIL BOB_EMAIL ADMIN_EMAIL PASSWORD
// Prints one JSON object with the events each subscription saw.
import { initClient } from "trailbase";

const [base, aliceEmail, bobEmail, adminEmail, password] = process.argv.slice(2);

async function client(email) {
  const c = initClient(base);
  await c.login(email, password);
  return c;
}

// Every event a stream yields until `quietMs` pass without one.
async function drain(stream, quietMs = 700) {
  const reader = stream.getReader();
  const events = [];
  for (;;) {
    const timeout = new Promise((resolve) => setTimeout(() => resolve({ timeout: true }), quietMs));
    const next = await Promise.race([reader.read(), timeout]);
    if (next.timeout || next.done) break;
    events.push(next.value);
  }
  await reader.cancel();
  return events;
}

const summary = (events) =>
  events.map((e) => {
    const [kind] = Object.keys(e).filter((k) => k !== "seq");
    return [kind, e[kind].title ?? e[kind].message ?? null, e.seq ?? null];
  });

const alice = await client(aliceEmail);
const bob = await client(bobEmail);
const admin = await client(adminEmail);
const aliceId = alice.user().id;

const notes = alice.records("notes");
const all = await notes.subscribeAll();
const mine = await notes.create({ title: "a1" });
const record = await notes.subscribe(mine);
const publicAll = await alice.records("public_notes").subscribe("*");
const filtered = await notes.subscribeAll({ filters: [{ column: "title", value: "wanted" }] });

const bobs = await bob.records("notes").create({ title: "bob's" }); // never reaches alice's notes
await admin.records("notes").create({ title: "from admin", owner: aliceId }); // alice may read it
await notes.update(mine, { title: "a1 changed" });
await bob.records("notes").update(bobs, { title: "bob's changed" });
await notes.create({ title: "wanted" });
await notes.delete(mine);
await bob.records("notes").delete(bobs);

const out = {
  all: summary(await drain(all)),
  record: summary(await drain(record)),
  public: summary(await drain(publicAll)),
  filtered: summary(await drain(filtered)),
};

// The WebSocket variant (subscribeWs is on the implementation, not the interface).
const ws = await notes.subscribeWs("*");
await notes.create({ title: "over ws" });
await bob.records("notes").create({ title: "bob over ws" });
out.ws = summary(await drain(ws));

console.log(JSON.stringify(out));
// Exit now: the 0.12.1 client closes its stream again when the cancelled socket's close
// event comes, which throws ("Controller is already closed").
process.exit(0);
