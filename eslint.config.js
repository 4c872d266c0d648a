// neostandard, the Fastify ecosystem's style (as fastify/demo uses it), with TypeScript, plus a
// line-length limit: a line over 140 characters is split where it reads best.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', '.bench/**', 'coverage/**', '.tap/**', 'node_modules/**', 'data/**'] }),
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 140 }]
    }
  }
]
