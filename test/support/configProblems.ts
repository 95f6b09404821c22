// What the config tests share: an SSH key for nodes, and the problems parseSettings reports.
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import { ConfigError, parseSettings } from "../../components/config/config";

export const sshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** Every problem parseSettings reports for `raw` on stack dev; [] when it accepts it. */
export function configProblems(raw: Record<string, unknown>): string[] {
    try {
        parseSettings(raw, "dev");
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems;
    }
    return [];
}
