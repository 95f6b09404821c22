// docs/BENCHMARKS.md against bench/results/: its tables are generated, so a hand edit (or a bad merge)
// shows up here instead of drifting.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { DOC, reportBlocks, withBlocks } from "../../bench/report";

const doc = fs.readFileSync(DOC, "utf8");

describe("docs/BENCHMARKS.md", () => {
    it("its tables are what bench/report.ts makes of the committed bench/results/*.json", () => {
        const blocks = reportBlocks();
        assert.deepEqual([...blocks.keys()].sort(), ["access", "auth", "cluster", "engine", "machine", "maintenance", "program", "throughput"]);
        for (const [name, text] of blocks) {
            const m = new RegExp(`<!-- bench:${name} -->\\n([\\s\\S]*?)\\n<!-- /bench:${name} -->`).exec(doc);
            assert.ok(m, `no <!-- bench:${name} --> section`);
            assert.equal(m[1], text, `section ${name} differs from the results: run node --import tsx bench/report.ts`);
        }
        assert.equal(withBlocks(doc, blocks), doc);
    });

    it("each marker once, and no paragraph repeated", () => {
        for (const name of reportBlocks().keys()) {
            assert.equal(doc.split(`<!-- bench:${name} -->`).length, 2, name);
            assert.equal(doc.split(`<!-- /bench:${name} -->`).length, 2, name);
        }
        const paragraphs = doc.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 40);
        const repeated = paragraphs.filter((p, i) => paragraphs.indexOf(p) !== i);
        assert.deepEqual(repeated, []);
        assert.ok(doc.length < 40_000, `${doc.length} characters: more than the prose and tables can account for`);
    });
});
