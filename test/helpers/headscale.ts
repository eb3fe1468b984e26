// headscale and derper as the labs run them (test/lab/node-lab.ts with `tailnet: true`,
// test/tailnet/lab.ts): headscale over plain HTTP with no update checks, no DERP map from the
// internet, no logtail and MagicDNS off; derper with a self-signed certificate for its IP, pinned
// in the DERP map by its hash (`certname: sha256-raw:…`) so clients speak TLS to it without a CA.
// headscale's built-in DERP server would need TLS on headscale itself: over plain HTTP its relay
// fails the clients' TLS handshake.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const HEADSCALE_PORT = 8080;
export const DERP_PORT = 8443;
export const STUN_PORT = 3478;

/** headscale's config.yaml: sqlite, noise key and unix socket in `dir`, the DERP map at `derpMapPath`. */
export function headscaleConfig(o: { dir: string; serverUrl: string; listenAddr: string; derpMapPath: string; policyPath?: string }): string {
    return [
        `server_url: ${o.serverUrl}`,
        `listen_addr: ${o.listenAddr}`,
        "metrics_listen_addr: 127.0.0.1:9090",
        "grpc_listen_addr: 127.0.0.1:50443",
        "grpc_allow_insecure: false",
        "noise:",
        `  private_key_path: ${join(o.dir, "noise_private.key")}`,
        "prefixes:",
        "  v4: 100.64.0.0/10",
        "  v6: fd7a:115c:a1e0::/48",
        "  allocation: sequential",
        "derp:",
        "  server:",
        "    enabled: false",
        "  urls: []",
        "  paths:",
        `    - ${o.derpMapPath}`,
        "  auto_update_enabled: false",
        "  update_frequency: 24h",
        "disable_check_updates: true",
        "ephemeral_node_inactivity_timeout: 30m",
        "database:",
        "  type: sqlite",
        "  sqlite:",
        `    path: ${join(o.dir, "db.sqlite")}`,
        "    write_ahead_log: true",
        "log:",
        "  format: text",
        "  level: info",
        "policy:",
        "  mode: file",
        `  path: "${o.policyPath ?? ""}"`,
        "dns:",
        "  magic_dns: false",
        "  base_domain: tailnet.lab",
        "  override_local_dns: false",
        "  nameservers:",
        "    global: []",
        "    split: {}",
        "  search_domains: []",
        "  extra_records: []",
        `unix_socket: ${join(o.dir, "headscale.sock")}`,
        'unix_socket_permission: "0770"',
        "logtail:",
        "  enabled: false",
        "randomize_client_port: false",
        "",
    ].join("\n");
}

/**
 * A self-signed certificate for derper at `ip` (`<dir>/<ip>.crt` and `.key`, what `-certmode=manual
 * -certdir=<dir> -hostname=<ip>` reads); returns the SHA-256 of its DER form, for the DERP map.
 */
export function derpCertificate(dir: string, ip: string): string {
    const r = spawnSync(
        "openssl",
        [
            ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"],
            ...["-subj", `/CN=${ip}`, "-addext", `subjectAltName=IP:${ip}`, "-keyout", join(dir, `${ip}.key`), "-out", join(dir, `${ip}.crt`)],
        ],
        { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`openssl req (the DERP certificate) failed (${r.status}): ${r.stderr}`);
    const der = spawnSync("openssl", ["x509", "-in", join(dir, `${ip}.crt`), "-outform", "DER"]);
    if (der.status !== 0) throw new Error(`openssl x509 (the DERP certificate) failed (${der.status}): ${der.stderr}`);
    return createHash("sha256")
        .update(der.stdout as Buffer)
        .digest("hex");
}

/** derper's argv: DERP over TLS on ip:DERP_PORT with the certificate of derpCertificate(), STUN on STUN_PORT, no HTTP port. */
export function derperArgs(binary: string, ip: string, certDir: string): string[] {
    return [
        binary,
        `-a=${ip}:${DERP_PORT}`,
        `-hostname=${ip}`,
        "-certmode=manual",
        `-certdir=${certDir}`,
        `-c=${join(certDir, "derper.json")}`,
        "-http-port=-1",
        `-stun-port=${STUN_PORT}`,
        "-home=blank",
    ];
}

/** Writes the DERP map (one region, 900, one node: derper at ip, its certificate pinned by hash) to `path`. */
export function writeDerpMap(path: string, ip: string, certSha256: string): void {
    writeFileSync(
        path,
        [
            "regions:",
            "  900:",
            "    regionid: 900",
            "    regioncode: lab",
            "    regionname: Lab DERP",
            "    nodes:",
            "      - name: 900a",
            "        regionid: 900",
            `        hostname: "${ip}"`,
            `        ipv4: "${ip}"`,
            "        ipv6: none",
            `        derpport: ${DERP_PORT}`,
            `        stunport: ${STUN_PORT}`,
            `        certname: "sha256-raw:${certSha256}"`,
            "",
        ].join("\n"),
    );
}
