/** Hop-by-hop header handling, x-forwarded-*, and origin-form targets (RFC 9110 §7.6.1). */
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { absoluteAuthority, downstreamResponseHeaders, originForm, reportedUtilization, upstreamRequestHeaders } from '../../../src/live/proxy/headers.js';

const names = (h: readonly string[]): string[] => h.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
const hopByHop = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings', 'proxy-authenticate', 'proxy-x'];
const anyCase = (name: string) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop headers and those Connection names; keeps the rest in order', () => {
    const out = upstreamRequestHeaders(
      ['Host', 'a', 'Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Trailer', 'x', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Proxy-Authorization', 'b', 'Proxy-Connection', 'keep-alive', 'Expect', '100-continue', 'Accept', '*/*'],
      '10.1.2.3',
    );
    expect(out).toEqual(['Host', 'a', 'Accept', '*/*', 'x-forwarded-for', '10.1.2.3', 'x-forwarded-proto', 'http']);
  });

  it('appends to x-forwarded-for (several lines join in order) and keeps a given x-forwarded-proto', () => {
    const out = upstreamRequestHeaders(['X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2', 'X-Forwarded-Proto', 'https'], '3.3.3.3');
    expect(out).toEqual(['X-Forwarded-Proto', 'https', 'x-forwarded-for', '1.1.1.1, 2.2.2.2, 3.3.3.3']);
  });

  test.prop([fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.stringMatching(/^[ -~]{0,20}$/)), { maxLength: 12 })])(
    'never forwards a hop-by-hop header, whatever the client sends',
    (pairs) => {
      const out = names(upstreamRequestHeaders(pairs.flat(), '127.0.0.1'));
      for (const n of out) expect(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'].includes(n) || n.startsWith('proxy-')).toBe(false);
      const listed = pairs.filter(([n]) => n.toLowerCase() === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()));
      for (const t of listed) if (t !== 'x-forwarded-for' && t !== 'x-forwarded-proto') expect(out).not.toContain(t);
      expect(out.filter((n) => n === 'x-forwarded-for')).toHaveLength(1);
    },
  );
});

describe('upstreamRequestHeaders, named headers', () => {
  const special = [...hopByHop, 'host', 'x-forwarded-for', 'x-forwarded-proto'];
  test.prop([fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.constantFrom(...special).chain(anyCase)), { maxLength: 14 }), fc.option(fc.constant('target.example'), { nil: undefined })])(
    'drops exactly the hop-by-hop names in any case, merges x-forwarded-*, replaces host only for an absolute-form target',
    (headerNames, host) => {
      const raw = headerNames.flatMap((n, i) => [n, n.toLowerCase() === 'connection' ? 'keep-alive' : `v${i}`]);
      const out = upstreamRequestHeaders(raw, '10.9.8.7', host);
      const expected = names(raw).filter((n) => !hopByHop.includes(n) && !n.startsWith('proxy-') && n !== 'x-forwarded-for' && (host === undefined || n !== 'host'));
      const got = names(out);
      expect(got.slice(host === undefined ? 0 : 1, got.length - 1 - (expected.includes('x-forwarded-proto') ? 0 : 1))).toEqual(expected);
      const xff = raw.filter((_, i) => i % 2 === 1 && raw[i - 1].toLowerCase() === 'x-forwarded-for');
      expect(out[out.indexOf('x-forwarded-for') + 1]).toBe([...xff, '10.9.8.7'].join(', '));
    },
  );
});

describe('downstreamResponseHeaders', () => {
  it('drops hop-by-hop response headers, including those the upstream Connection names', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'close, X-Internal', 'X-Internal', 'y', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'];
    expect(downstreamResponseHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });

  test.prop([fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.constantFrom(...hopByHop).chain(anyCase)), { maxLength: 14 })])(
    'drops exactly the hop-by-hop names, in any case, and keeps every other header in order',
    (headerNames) => {
      const raw = headerNames.flatMap((n, i) => [n, n.toLowerCase() === 'connection' ? 'keep-alive' : `v${i}`]);
      const kept = raw.filter((_, i) => i % 2 === 0 && !hopByHop.includes(raw[i].toLowerCase()) && !raw[i].toLowerCase().startsWith('proxy-'));
      expect(names(downstreamResponseHeaders(raw))).toEqual(kept.map((n) => n.toLowerCase()));
    },
  );
});

describe('absolute-form targets: Host from the target (RFC 9112 §3.2.2)', () => {
  it('absoluteAuthority: host[:port] without userinfo; undefined for origin-form and the rest', () => {
    expect(absoluteAuthority('http://a.example:8080/p?q')).toBe('a.example:8080');
    expect(absoluteAuthority('HTTP://user:pw@b.example/')).toBe('b.example');
    expect(absoluteAuthority('http://c.example')).toBe('c.example');
    expect([absoluteAuthority('/p'), absoluteAuthority('*'), absoluteAuthority('http:///p')]).toEqual([undefined, undefined, undefined]);
  });

  it('upstreamRequestHeaders replaces the client Host with the given one, once', () => {
    const out = upstreamRequestHeaders(['Host', 'client.example', 'Accept', '*/*', 'host', 'dup.example'], '10.0.0.1', 'a.example:8080');
    expect(out.filter((_, i) => i % 2 === 0 && out[i].toLowerCase() === 'host').length).toBe(1);
    expect(out.slice(0, 2)).toEqual(['host', 'a.example:8080']);
    expect(out).toContain('Accept');
    expect(upstreamRequestHeaders(['Host', 'client.example'], '10.0.0.1').slice(0, 2)).toEqual(['Host', 'client.example']);
  });
});

describe('originForm', () => {
  it('keeps origin-form targets, reduces absolute-form ones to their path, refuses the rest', () => {
    expect(originForm('/a/b?c=1')).toBe('/a/b?c=1');
    expect(originForm('//evil.example/x')).toBe('//evil.example/x');
    expect(originForm('http://evil.example/x?y')).toBe('/x?y');
    expect(originForm('HTTPS://evil.example')).toBe('/');
    expect(originForm('http://evil.example?q=1')).toBe('/?q=1');
    expect(originForm('http://user:pw@evil.example:8080/p')).toBe('/p');
    expect(originForm('*')).toBeUndefined();
    expect(originForm('evil.example:443')).toBeUndefined();
  });
});

describe('reportedUtilization (ORCA endpoint-load-metrics, TEXT)', () => {
  const h = (...pairs: string[]): string[] => pairs;
  it('reads application_utilization, else cpu_utilization; NaN otherwise', () => {
    expect(reportedUtilization(h('Endpoint-Load-Metrics', 'TEXT cpu_utilization=0.7, application_utilization=0.25'))).toBe(0.25);
    expect(reportedUtilization(h('content-type', 'x', 'endpoint-load-metrics', 'TEXT cpu_utilization=0.7'))).toBe(0.7);
    expect(reportedUtilization(h('endpoint-load-metrics', 'JSON {"cpu_utilization":0.7}'))).toBeNaN();
    expect(reportedUtilization(h('endpoint-load-metrics', 'TEXT cpu_utilization=-1'))).toBeNaN();
    expect(reportedUtilization(h('content-type', 'x'))).toBeNaN();
  });
});
