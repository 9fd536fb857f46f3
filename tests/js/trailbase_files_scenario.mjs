// TrailBase's npm client and file columns: node trailbase_files_scenario.mjs URL EMAIL PASSWORD
// Uploads with the JSON input the client's own tests use (url-safe base64), reads the file
// column's metadata, downloads through filePath/filesPath with the client's token, and
// checks that an anonymous download is refused. Prints one JSON object; exits 1 on failure.
import { initClient, filePath, filesPath, urlSafeBase64Encode } from "trailbase";

const [base, email, password] = process.argv.slice(2);
const out = {};

function check(condition, message) {
  if (!condition) {
    console.error(`scenario failed: ${message}\n${JSON.stringify(out, null, 1)}`);
    process.exit(1);
  }
}

const client = initClient(base);
await client.login(email, password);
const api = client.records("attachments");
const single = new Uint8Array([0, 1, 2, 3, 4, 5]);
const text = new TextEncoder().encode("hello from the npm client");
const id = await api.create({
  title: "with files",
  single_file: { name: "single_file", filename: "test1.bin", content_type: "application/octet-stream", data: urlSafeBase64Encode(single) },
  multiple_files: [{ name: "multiple_files", filename: "hello.txt", content_type: "text/plain", data: urlSafeBase64Encode(text) }],
});
const record = await api.read(id);
out.single = record.single_file;
out.multiple = record.multiple_files;
check(record.single_file.original_filename === "test1.bin", "the column holds the metadata");
check(record.single_file.id === undefined, "the object id is not shown");
check(record.multiple_files.length === 1, "a std.FileUploads column is a list");

const download = await client.fetch(filePath("attachments", id, "single_file"));
const bytes = new Uint8Array(await download.arrayBuffer());
out.downloaded = Array.from(bytes);
check(bytes.length === 6 && bytes[5] === 5, "the single file downloads");
out.disposition = download.headers.get("content-disposition");
out.nosniff = download.headers.get("x-content-type-options");

const name = record.multiple_files[0].filename;
const second = await client.fetch(filesPath("attachments", id, "multiple_files", name));
out.text = await second.text();
check(out.text === "hello from the npm client", "one of several files downloads by name");

const anonymous = await fetch(base + filePath("attachments", id, "single_file"));
out.anonymous = anonymous.status;
check(anonymous.status !== 200, "an anonymous download of an owner-only file is refused");
console.log(JSON.stringify(out));
