import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/duration.js';
import { UserError } from '../src/errors.js';

// Vault's parseutil.ParseDurationSecond: whole seconds (number or numeric
// string) or a Go duration, with Vault's "d" unit; the result is whole seconds.
describe('parseDuration', () => {
  it.each([
    ['768h', 2_764_800],
    ['15m', 900],
    ['1h30m', 5400],
    ['90s', 90],
    ['1d', 86_400],
    ['1.5h', 5400],
    ['1500ms', 1],
    ['3600', 3600],
    [' 60 ', 60],
    ['0', 0],
  ])('reads %j as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it('takes a JSON number as seconds, as Vault does for ttl fields', () => {
    expect(parseDuration(3600)).toBe(3600);
    expect(parseDuration(0)).toBe(0);
  });

  it.each(['', 'abc', '15x', '-5m', '1h-30m', 'h', '1.5', '15 m', '1w'])('refuses %j with a message that says what it takes', (text) => {
    expect(() => parseDuration(text)).toThrow(UserError);
    expect(() => parseDuration(text)).toThrow(/use seconds or a duration such as 15m, 1h, 768h/);
  });

  it.each([-1, 1.5, Number.NaN])('refuses the number %d', (value) => {
    expect(() => parseDuration(value)).toThrow(/must be a whole number of seconds/);
  });
});

describe('formatDuration', () => {
  it.each([
    [2_764_800, '768h'],
    [3599, '59m59s'],
    [3600, '1h'],
    [3661, '1h1m1s'],
    [0, '0s'],
    [-5, '0s'],
  ])('prints %i seconds as %j, as Vault humanises a TTL', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips what it prints', () => {
    for (const seconds of [1, 59, 61, 3599, 86_399, 2_764_800]) expect(parseDuration(formatDuration(seconds))).toBe(seconds);
  });
});
