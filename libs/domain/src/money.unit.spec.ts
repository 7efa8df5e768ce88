import { DomainError, ErrorCode, parseAmount, toMajor, toMinorOrThrow, weightedMinor } from '@app/domain';

describe('parseAmount', () => {
  it.each([
    [150000, 15_000_000],
    [150000.5, 15_000_050],
    [175000.0, 17_500_000],
    [0, 0],
    [0.01, 1],
    [0.1, 10],
    [1234567890123.45, 123_456_789_012_345],
    [9999999999999.99, 999_999_999_999_999],
  ])('parses the JSON number %p as %p minor units', (input, minor) => {
    expect(parseAmount(input)).toBe(minor);
  });

  it.each([
    ['150000', 15_000_000],
    ['150000.5', 15_000_050],
    ['150000.50', 15_000_050],
    ['150000.05', 15_000_005],
    ['0.99', 99],
    ['007', 700],
    [' 12.30 ', 1_230],
    ['9999999999999.99', 999_999_999_999_999],
  ])('parses the decimal string %j as %p minor units', (input, minor) => {
    expect(parseAmount(input)).toBe(minor);
  });

  it.each([[0.001], [1.005], [0.1 + 0.2], ['1.234'], ['0.001'], ['150000.505']])('rejects more than 2 decimals: %p', (input) => {
    expect(parseAmount(input)).toBeNull();
  });

  it.each([[-1], [-0.01], ['-1'], ['-0.01']])('rejects a negative amount %p', (input) => {
    expect(parseAmount(input)).toBeNull();
  });

  it.each([
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [1e21],
    ['1e3'],
    [''],
    ['abc'],
    ['1,000.00'],
    ['+5'],
    ['.5'],
    ['5.'],
    ['10000000000000'], // 14 integer digits: above the documented 10^13 limit
    [null],
    [undefined],
    [true],
    [{}],
    [[100]],
  ])('rejects %p', (input) => {
    expect(parseAmount(input)).toBeNull();
  });

  it('accepts -0 as zero', () => {
    expect(parseAmount(-0)).toBe(0);
  });
});

describe('toMinorOrThrow / toMajor', () => {
  it('returns minor units for a valid amount', () => {
    expect(toMinorOrThrow('175000.00', 'value')).toBe(17_500_000);
  });

  it('throws a field-level validation error for an invalid amount', () => {
    let error: unknown;
    try {
      toMinorOrThrow(-5, 'actual_value');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({
      code: ErrorCode.ValidationFailed,
      details: { errors: { actual_value: [expect.stringContaining('actual_value')] } },
    });
  });

  it.each([
    [17_500_000, 175000],
    [15_000_050, 150000.5],
    [1, 0.01],
    [0, 0],
    [999_999_999_999_999, 9999999999999.99],
  ])('%p minor → %p major', (minor, major) => {
    expect(toMajor(minor)).toBe(major);
  });
});

describe('weightedMinor: value × probability / 100, exact to the cent, half up', () => {
  it.each([
    // the documented examples (major units × 100)
    [15_000_000, 25, 3_750_000], // 150,000.00 × 25% = 37,500.00
    [15_000_000, 60, 9_000_000], // 90,000.00
    [17_500_000, 65, 11_375_000], // the update example: 175,000 × 65% = 113,750.00
    [45_000_000, 10, 4_500_000], // pipeline-data prospecting: 450,000 × 10% = 45,000
    [85_000_000, 75, 63_750_000], // negotiation: 850,000 × 75% = 637,500
    [40_000_000, 90, 36_000_000], // verbal commitment: 400,000 × 90% = 360,000
    [15_000_000, 100, 15_000_000],
    [15_000_000, 0, 0],
    [0, 90, 0],
  ])('%p × %p%% = %p', (value, probability, weighted) => {
    expect(weightedMinor(value, probability)).toBe(weighted);
  });

  it.each([
    [33_333, 25, 8_333], // 333.33 × 25% = 83.3325 → 83.33
    [33_333, 75, 25_000], // 249.9975 → 250.00
    [33_330, 25, 8_333], // 83.325 exactly → half up → 83.33
    [33_310, 25, 8_328], // 83.275 → 83.28
    [1, 50, 1], // 0.005 → 0.01
    [1, 49, 0], // 0.0049 → 0.00
    [3, 50, 2], // 0.015 → 0.02
    [99, 10, 10], // 0.099 → 0.10
    [10_001, 10, 1_000], // 10.001 → 10.00
    [10_005, 10, 1_001], // 10.005 → 10.01 (half up, not banker's)
    [10_015, 10, 1_002], // 10.015 → 10.02 (half up, not banker's)
    [12_345_678, 33, 4_074_074], // 123,456.78 × 33% = 40,740.7374 → 40,740.74
  ])('%p × %p%% rounds to %p', (value, probability, weighted) => {
    expect(weightedMinor(value, probability)).toBe(weighted);
  });

  it('stays exact for large deals below 2^53 cents × 100', () => {
    // 1,000,000,000.00 × 90% = 900,000,000.00
    expect(weightedMinor(100_000_000_000, 90)).toBe(90_000_000_000);
    // 12,345,678,901.23 × 75% = 9,259,259,175.9225 → 9,259,259,175.92
    expect(weightedMinor(1_234_567_890_123, 75)).toBe(925_925_917_592);
  });

  // parseAmount accepts up to 13 integer digits (9,999,999,999,999.99), but value × probability then
  // exceeds Number.MAX_SAFE_INTEGER and the float product loses the cents.
  it.each([
    // 2,100,000,000,000.05 × 90% = 1,890,000,000,000.045 → half up → 1,890,000,000,000.05
    [210_000_000_000_005, 90, 189_000_000_000_005],
    // 9,999,999,999,999.99 × 51% = 5,099,999,999,999.9949 → 5,099,999,999,999.99
    [999_999_999_999_999, 51, 509_999_999_999_999],
  ])('stays exact to the cent for the largest accepted amounts: %p × %p%% = %p', (value, probability, weighted) => {
    expect(weightedMinor(value, probability)).toBe(weighted);
  });
});
