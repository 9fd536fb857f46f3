// A TrailBase client session against a running TinyBase: node trailbase_scenario.mjs URL EMAIL PASSWORD
// Prints one JSON object with what the client saw; exits 1 on the first unexpected result.
import { initClient, FetchError } from "trailbase";

const [base, email, password] = process.argv.slice(2);
const out = {};

function check(condition, message) {
  if (!condition) {
    console.error(`scenario failed: ${message}\n${JSON.stringify(out, null, 1)}`);
    process.exit(1);
  }
}

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof FetchError) return err.status;
    throw err;
  }
}

const client = initClient(base);
await client.login(email, password);
out.user = client.user();
check(out.user && out.user.email === email, "login sets the user from the token");

const api = client.records("posts");
const id = await api.create({ title: "first", score: 1 });
out.created = id;
const record = await api.read(id);
check(record.title === "first" && record.score === 1, "read after create");

await api.update(id, { score: 2 });
check((await api.read(id)).score === 2, "update is visible");

const bulk = await api.createBulk([
  { title: "b1", score: 5 },
  { title: "b2", score: 6 },
  { title: "b3", score: 7 },
  { title: "b4", score: 8 },
]);
out.bulk = bulk;
check(bulk.length === 4, "bulk create returns four ids");

const filters = [{ column: "score", op: "greaterThanEqual", value: "5" }];
const first = await api.list({ filters, order: ["-score"], pagination: { limit: 3 }, count: true });
out.first = first.records.map((r) => r.title);
check(first.total_count === 4, "count with filter");
check(out.first.join() === "b4,b3,b2", "filter and order");
const second = await api.list({ filters, order: ["-score"], pagination: { limit: 3, cursor: first.cursor } });
out.second = second.records.map((r) => r.title);
check(out.second.join() === "b1", "cursor paging continues after the last row");

const newest = await api.list({ pagination: { limit: 2 } });
out.newest = newest.records.map((r) => r.title);
const older = await api.list({ pagination: { limit: 2, cursor: newest.cursor } });
out.older = older.records.map((r) => r.title);
check(out.newest.join() === "b4,b3" && out.older.join() === "b2,b1", "default order is newest first");

const either = await api.list({
  filters: [{ or: [{ column: "title", value: "b1" }, { column: "title", op: "like", value: "fir%" }] }],
  order: ["title"],
});
out.either = either.records.map((r) => r.title);
check(out.either.join() === "b1,first", "nested or filter");

const txIds = await client.execute([
  api.createOp({ title: "tx", score: 9 }),
  api.updateOp(bulk[0], { score: 50 }),
  api.deleteOp(bulk[1]),
]);
out.transaction = txIds;
check(txIds.length === 1, "transaction returns the created id");
check((await api.read(bulk[0])).score === 50, "transaction update applied");
check((await status(api.read(bulk[1]))) === 404, "transaction delete applied");

const failedTx = await status(
  client.execute([api.createOp({ title: "never" }), api.deleteOp("01900000-0000-7000-8000-000000000000")]),
);
out.failedTransaction = failedTx;
check(failedTx === 404, "a failing transaction is reported");
const never = await api.list({ filters: [{ column: "title", value: "never" }] });
check(never.records.length === 0, "a failing transaction writes nothing");

await client.refreshAuthToken({ force: true });
check(client.user()?.email === email, "refresh keeps the session");

await api.delete(id);
check((await status(api.read(id))) === 404, "read after delete is 404");

await client.logout();
check(client.user() === undefined, "logout clears the user");
out.afterLogout = await status(api.list());
check(out.afterLogout === 401, "anonymous list is refused");

console.log(JSON.stringify(out));
