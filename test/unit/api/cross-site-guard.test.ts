import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crossSiteRefusal } from '../../../src/api/cross-site-guard.js';

const HOST = '192.0.2.10:8080';

describe('cross-site guard', () => {
  it('lets reads through, whatever they carry', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'get']) {
      assert.equal(crossSiteRefusal(method, { host: HOST, origin: 'http://evil.example' }), null);
    }
  });

  it('refuses the requests a foreign page can send without asking first', () => {
    // What a form post or a "simple" fetch looks like: no type, text/plain, a form encoding.
    const simpleTypes = [
      undefined,
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ];
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const type of simpleTypes) {
        const headers = { host: HOST, ...(type === undefined ? {} : { 'content-type': type }) };
        assert.match(
          crossSiteRefusal(method, headers) ?? 'let through',
          /needs content-type/,
          `${method} ${type}`,
        );
      }
    }
  });

  it('lets JSON and marked requests through from the same origin or no origin', () => {
    for (const headers of [
      { host: HOST, 'content-type': 'application/json' },
      { host: HOST, 'content-type': 'Application/JSON; charset=utf-8' },
      { host: HOST, 'x-tandem-client': 'cli' },
      { host: HOST, 'x-tandem-client': 'gui', origin: `http://${HOST}` },
      { host: HOST, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      { host: 'Example.COM', 'content-type': 'application/json', origin: 'http://example.com' },
      { host: 'example.com:80', 'content-type': 'application/json', origin: 'http://example.com' },
    ]) {
      assert.equal(crossSiteRefusal('POST', headers), null, JSON.stringify(headers));
    }
  });

  it('refuses a foreign origin even with JSON and the marker header', () => {
    for (const origin of [
      'http://evil.example',
      'null',
      `https://${HOST}`,
      'http://192.0.2.10:8081',
      'http://192.0.2.10',
      'file://',
      'not a url',
    ]) {
      const refusal = crossSiteRefusal('DELETE', {
        host: HOST,
        origin,
        'content-type': 'application/json',
        'x-tandem-client': 'x',
      });
      assert.match(refusal ?? 'let through', /another site/, origin);
    }
    assert.match(
      crossSiteRefusal('POST', {
        host: HOST,
        'content-type': 'application/json',
        'sec-fetch-site': 'cross-site',
      }) ?? 'let through',
      /another site/,
    );
    assert.match(
      crossSiteRefusal('POST', { 'content-type': 'application/json', origin: 'http://x' }) ?? 'let through',
      /another site/,
      'no Host header to compare with',
    );
  });
});
