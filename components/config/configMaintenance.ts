// The checks of `maintenance` that span keys.
import type { Reader, Shape } from "./configSpec";
import { SCHEMA } from "./configSchema";

type Settings = Shape<typeof SCHEMA>;

export function checkMaintenance(r: Reader, s: Settings, where: (o: object) => string | undefined): void {
    const m = s.maintenance;
    if (!m) return;
    if (!s.access.pullOnly) {
        r.fail("maintenance", "needs access.pullOnly: true (the default): a window stops only the writer, so pulls go on through the read-only registry; with one login there is no reader to serve them");
    }
    m.retention.forEach((rule) => {
        if (rule.keepLast === 0 && rule.keepDays === 0 && rule.keepTags.length === 0) {
            r.fail(where(rule) ?? "maintenance.retention", "keeps no tag: set keepLast, keepDays or keepTags (a rule that keeps nothing would delete every tag of its repositories)");
        }
    });
}
