// A small, independent reader for what the SIEM output writes: an RFC 5424 line (header,
// structured data, message) and a CEF line (header fields with `\|` `\\`, extension keys with
// `\=` `\\` `\n` `\r`), as a SIEM's parser reads them. Test code only.

export interface Syslog5424 {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

export function parse5424(line: string): Syslog5424 {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) (.*)$/s.exec(line);
  if (!m) throw new Error(`not RFC 5424: ${line.slice(0, 200)}`);
  return { pri: Number(m[1]), version: Number(m[2]), timestamp: m[3]!, hostname: m[4]!, app: m[5]!, procid: m[6]!, msgid: m[7]!, sd: m[8]!, msg: m[9]! };
}

export interface Cef {
  version: string;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  ext: Record<string, string>;
}

export function parseCef(text: string): Cef {
  const start = text.indexOf('CEF:');
  if (start < 0) throw new Error(`no CEF in ${text.slice(0, 200)}`);
  const s = text.slice(start + 4);
  const header: string[] = [];
  let cur = '';
  let i = 0;
  while (header.length < 7) {
    if (i >= s.length) throw new Error(`CEF header has ${header.length} of 7 fields: ${text}`);
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '|' || s[i + 1] === '\\')) {
      cur += s[i + 1];
      i += 2;
    } else if (c === '|') {
      header.push(cur);
      cur = '';
      i++;
    } else {
      cur += c;
      i++;
    }
  }
  return {
    version: header[0]!,
    vendor: header[1]!,
    product: header[2]!,
    deviceVersion: header[3]!,
    signatureId: header[4]!,
    name: header[5]!,
    severity: header[6]!,
    ext: parseExtension(s.slice(i)),
  };
}

/** key=value pairs separated by spaces; a value runs until the space before the next unescaped `key=`. */
export function parseExtension(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Positions of unescaped '=' and the key before each.
  const keys: Array<{ key: string; keyStart: number; valueStart: number }> = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '=') {
      const m = /([A-Za-z0-9_]+)$/.exec(s.slice(0, i));
      if (!m) throw new Error(`CEF extension: '=' without a key at ${i}: ${s}`);
      const keyStart = i - m[1]!.length;
      if (keyStart !== 0 && s[keyStart - 1] !== ' ') throw new Error(`CEF extension: unescaped '=' inside a value at ${i}: ${s}`);
      keys.push({ key: m[1]!, keyStart, valueStart: i + 1 });
    }
  }
  keys.forEach((k, n) => {
    const end = n + 1 < keys.length ? keys[n + 1]!.keyStart - 1 : s.length;
    out[k.key] = unescapeValue(s.slice(k.valueStart, end));
  });
  return out;
}

function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}
