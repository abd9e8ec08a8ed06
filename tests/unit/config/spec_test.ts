import { assertEquals, assertThrows } from "../../_helpers/assert.ts";
import {
  address,
  duration,
  formatAddress,
  hostName,
  int,
  mode,
  oneOf,
  parseAddress,
  path,
  size,
  str,
} from "../../../lib/config/spec.ts";

Deno.test("an address is host:port", () => {
  assertEquals(parseAddress("conductor.example.com:2258", 1), {
    host: "conductor.example.com",
    port: 2258,
  });
  assertEquals(parseAddress("10.0.0.1:80", 1), { host: "10.0.0.1", port: 80 });
  assertEquals(parseAddress("  host:65535 ", 1), { host: "host", port: 65535 });
});

Deno.test("an IPv6 address is written in brackets, with or without a port", () => {
  assertEquals(parseAddress("[::1]:2258", 1), { host: "::1", port: 2258 });
  assertEquals(parseAddress("[2001:db8::7]", 9), { host: "2001:db8::7", port: 9 });
});

Deno.test("an address of only :port listens on every interface", () => {
  assertEquals(parseAddress(":9000", 1), { host: "0.0.0.0", port: 9000 });
});

Deno.test("a bare host takes the default port", () => {
  assertEquals(parseAddress("conductor", 2258), { host: "conductor", port: 2258 });
});

Deno.test("a bad port or a malformed address gives undefined", () => {
  for (
    const t of [
      "host:65536",
      "host:99999",
      "host:123456",
      "host:",
      "host:abc",
      "::1",
      "a:b:c",
      "ho st:1",
      "[::1",
    ]
  ) {
    assertEquals(parseAddress(t, 1), undefined, t);
  }
});

Deno.test("an address is written back with brackets around IPv6 hosts", () => {
  assertEquals(formatAddress({ host: "::1", port: 5 }), "[::1]:5");
  assertEquals(formatAddress({ host: "h.example", port: 5 }), "h.example:5");
});

Deno.test("an address key may be turned off only when it allows it", () => {
  const off = address(null, 1, "doc", { allowOff: true });
  assertEquals(off.parse("off"), null);
  assertEquals(off.parse(""), null);
  assertEquals(off.parse(false), null);
  const on = address(null, 1, "doc");
  // Without allowOff, "off" is just a host called off.
  assertEquals(on.parse("off"), { host: "off", port: 1 });
  assertThrows(() => on.parse("a b"), /^the string "a b" is not an address \(host:port\)$/);
  assertThrows(
    () => off.parse("x:99999"),
    /^the string "x:99999" is not an address \(host:port, or "off"\)$/,
  );
  assertThrows(() => on.parse(5), /^the number 5 is not an address \(host:port\)$/);
});

Deno.test("a duration key takes text or a number of seconds, within its range", () => {
  const k = duration(1000, "doc", 300, 60_000);
  assertEquals(k.parse("2s"), 2000);
  assertEquals(k.parse(3), 3000);
  assertEquals(k.parse("300ms"), 300);
  assertThrows(() => k.parse("299ms"), /^299ms is out of range \(300ms\.\.60000ms\)$/);
  assertThrows(() => k.parse("2m"), /^120000ms is out of range \(300ms\.\.60000ms\)$/);
  assertThrows(
    () => k.parse("soon"),
    /^the string "soon" is not a duration \(e\.g\. 500ms, 15s, 2m\)$/,
  );
  assertThrows(() => k.parse(true), /^true is not a duration/);
});

Deno.test("a duration key given a bare number is whole milliseconds, as when given text", () => {
  // Durations such as heartbeat travel on the wire as integers (welcome.heartbeat_ms).
  const k = duration(1000, "doc", 1);
  assertEquals(k.parse("15.0005"), 15_001);
  assertEquals(k.parse(15.0005), k.parse("15.0005"));
});

Deno.test("an int key takes digits or a number within its range", () => {
  const k = int(4, "doc", 1, 1024);
  assertEquals(k.parse("8"), 8);
  assertEquals(k.parse(16), 16);
  assertThrows(() => k.parse("0"), /^0 is out of range \(1\.\.1024\)$/);
  assertThrows(() => k.parse("1.5"), /^the string "1\.5" is not an integer$/);
  assertThrows(() => k.parse(2.5), /^the number 2\.5 is not an integer$/);
});

Deno.test("a size key takes units, within its range", () => {
  const k = size(1 << 20, "doc", 65536, 64 << 20);
  assertEquals(k.parse("2MiB"), 2_097_152);
  assertEquals(k.parse(65536), 65536);
  assertThrows(() => k.parse("1KiB"), /^1024 bytes is out of range \(65536\.\.67108864\)$/);
  assertThrows(
    () => k.parse("lots"),
    /^the string "lots" is not a size \(e\.g\. 65536, 64KiB, 1MiB\)$/,
  );
  assertThrows(
    () => k.parse("1constructor"),
    /^the string "1constructor" is not a size: unknown unit "constructor" \(known: B, k/,
  );
});

Deno.test("a one-of key takes only its words", () => {
  const k = oneOf("info", ["debug", "info"] as const, "doc");
  assertEquals(k.parse("debug"), "debug");
  assertThrows(() => k.parse("verbose"), /^the string "verbose" is not one of debug, info$/);
});

Deno.test("a mode key reads octal, with or without the leading zero", () => {
  const k = mode(0o660, "doc");
  assertEquals(k.parse("0640"), 0o640);
  assertEquals(k.parse("600"), 0o600);
  // YAML 1.2 reads 0660 as the decimal number 660: still meant as octal.
  assertEquals(k.parse(660), 0o660);
  assertThrows(
    () => k.parse("0888"),
    /^the string "0888" is not a file mode in octal \(e\.g\. 0660\)$/,
  );
  assertThrows(() => k.parse("06400"), /is not a file mode in octal/);
});

Deno.test("a host name key lower-cases and refuses what is not a host name", () => {
  const k = hostName("", "doc");
  assertEquals(k.parse("Web-1.Example.COM"), "web-1.example.com");
  assertThrows(() => k.parse("bad_name"), /^the string "bad_name" is not a host name/);
});

Deno.test("a string key refuses the empty string unless allowed, and takes numbers as text", () => {
  assertEquals(str("", "doc").parse(42), "42");
  assertThrows(() => str("", "doc").parse(""), /^the string "" is not a non-empty string$/);
  assertEquals(str("", "doc", { allowEmpty: true }).parse(""), "");
  assertEquals(path("", "doc").isPath, true);
  assertEquals(str("", "doc").isPath, undefined);
});
