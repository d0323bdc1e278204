// Prints the four Lighthouse category scores of each report given, as a
// table, and the failed audits that cost points. The last column is
// Lighthouse's CPU benchmark index for the run: performance is measured on a
// (simulated) slow device scaled from this machine's speed at that moment, so
// a busy machine (a low index) scores lower on the same page.
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const categories = ["performance", "accessibility", "best-practices", "seo"];
const rows = [];
const failures = [];
for (const file of process.argv.slice(2)) {
	const lhr = JSON.parse(readFileSync(file, "utf8"));
	const name = basename(file, ".json");
	if (lhr.runtimeError) {
		failures.push(`${name}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
	}
	rows.push([name, ...categories.map((c) => {
		const s = lhr.categories[c]?.score;
		return s == null ? "-" : String(Math.round(s * 100));
	}), String(Math.round(lhr.environment?.benchmarkIndex ?? 0))]);
	for (const c of categories) {
		for (const ref of lhr.categories[c]?.auditRefs ?? []) {
			const a = lhr.audits[ref.id];
			if (ref.weight > 0 && a.score !== null && a.score < 0.9) {
				failures.push(`${name}: ${c}: ${a.id} (${Math.round(a.score * 100)}) ${a.title}${a.displayValue ? ": " + a.displayValue : ""}`);
			}
		}
	}
}
const header = ["page", "performance", "accessibility", "best practices", "SEO", "CPU index"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => "| " + r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(" | ") + " |";
console.log(line(header));
console.log("|" + widths.map((w, i) => "-".repeat(w + 1) + (i === 0 ? "-" : ":")).join("|") + "|");
for (const r of rows) console.log(line(r));
if (failures.length > 0) {
	console.log("\nAudits below 90 that count towards a score:");
	for (const f of failures) console.log("  " + f);
}
