/** The API key the benchmark's service requires and its load generator sends. */
export const BENCH_KEY = 'bench-key-0123456789abcdef0123456789'
