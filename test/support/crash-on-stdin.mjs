// Preloaded into server.ts by a test: a line on stdin makes the process throw an uncaught
// exception, so the test can crash a running server at a moment of its choosing.
process.stdin.once('data', () => {
  throw new Error('crash requested by the test')
})
