import { ifNoneMatchMatches } from './conditional-get';

describe('If-None-Match (RFC 9110 §13.1.2: weak comparison, lists, *)', () => {
  it.each([
    ['"3"', '"3"'],
    ['W/"3"', '"3"'],
    ['"3"', 'W/"3"'],
    ['"1", "2", "3"', '"3"'],
    ['"1",W/"3"', '"3"'],
    [' "3" ', '"3"'],
    ['*', '"3"'],
    ['"a,b", "3"', '"3"'],
    ['"a,b"', '"a,b"'],
    ['junk, "3"', '"3"'],
  ])('%s matches %s', (header, etag) => {
    expect(ifNoneMatchMatches(header, etag)).toBe(true);
  });

  it.each([
    [undefined, '"3"'],
    ['', '"3"'],
    ['"2"', '"3"'],
    ['"1", "2"', '"3"'],
    ['3', '"3"'],
    ['w/"3"', '"3"'],
    ['"33"', '"3"'],
    ['"a,b"', '"a"'],
    ['"3', '"3"'],
  ])('%s does not match %s', (header, etag) => {
    expect(ifNoneMatchMatches(header, etag)).toBe(false);
  });
});
