// Prints, as JSON, the titles a JavaScript feed reader shows for each feed file given:
// @rowanmanning/feed-parser for RSS and Atom, feedsmith for JSON Feed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseFeed as parseJsonFeed } from "feedsmith";

const require = createRequire(import.meta.url);
const { parseFeed } = require("@rowanmanning/feed-parser");

const shown = {};
for (const path of process.argv.slice(2)) {
  const text = readFileSync(path, "utf8");
  shown[path] = path.endsWith(".json")
    ? parseJsonFeed(text).feed.items.map((item) => item.title)
    : parseFeed(text).items.map((item) => item.title);
}
console.log(JSON.stringify(shown));
